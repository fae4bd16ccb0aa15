from django.urls import path
from stock.views import index

urlpatterns = [path("", index)]
