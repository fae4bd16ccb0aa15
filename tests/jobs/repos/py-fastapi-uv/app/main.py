from fastapi import FastAPI

app = FastAPI(title="orders")


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/orders/{order_id}")
def get_order(order_id: int) -> dict[str, int]:
    return {"id": order_id}
