from flask import Flask
from flask_ratelimit_lite import RateLimit

app = Flask(__name__)
RateLimit(app)


def test_ok():
    assert app.test_client().get("/").status_code == 404
