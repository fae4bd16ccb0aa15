const express = require('express');

const app = express();
app.get('/', (req, res) => res.json({ catalog: [] }));

const port = process.env.PORT || 4000;
app.listen(port, () => console.log(`catalog on ${port}`));
