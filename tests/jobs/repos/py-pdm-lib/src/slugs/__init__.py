from unidecode import unidecode


def slugify(text: str) -> str:
    return "-".join(unidecode(text).lower().split())
