const app = require("express")();
app.get("/", (_q, r) => r.send("hi"));
app.listen(process.env.PORT || 3000);
