import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "only-for-the-rehearsal")
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["stock"]
ROOT_URLCONF = "inventory.urls"
WSGI_APPLICATION = "inventory.wsgi.application"
DATABASES: dict[str, dict[str, str]] = {}
