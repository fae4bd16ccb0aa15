from fastapi import FastAPI

app = FastAPI(title="orders")


@app.get("/")
def root() -> dict[str, int]:
    return {"orders": 0}
