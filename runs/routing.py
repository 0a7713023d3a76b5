from django.urls import path

from .consumers import RunConsumer

websocket_urlpatterns = [path("ws/run/", RunConsumer.as_asgi())]
