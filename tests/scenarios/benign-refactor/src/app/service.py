"""Order totals."""


def total(items: list[tuple[str, int, float]]) -> float:
    return sum(qty * price for _, qty, price in items)
