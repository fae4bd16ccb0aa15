import express from "express";
import { requestId } from "./index";

const app = express();
app.use(requestId());
app.listen(0);
