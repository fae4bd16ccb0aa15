import type { RequestHandler } from "express";
import { randomUUID } from "node:crypto";

export const requestId = (): RequestHandler => (req, res, next) => {
  res.setHeader("x-request-id", req.header("x-request-id") ?? randomUUID());
  next();
};
