from app import app


def test_index():
    assert app.test_client().get('/').status_code == 200
