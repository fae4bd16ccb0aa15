from svc import create_app


def test_hello():
    assert create_app().test_client().get("/").data == b"hello"
