"""Binance's Spot REST paths, mounted at /binance/api/v3/."""

from django.urls import path

from . import views

app_name = "gateway"

urlpatterns = [
    path("ping", views.ping_view, name="ping"),
    path("time", views.time_view, name="time"),
    path("exchangeInfo", views.exchange_info_view, name="exchange-info"),
    path("ticker/price", views.ticker_price_view, name="ticker-price"),
    path("ticker/24hr", views.ticker_24hr_view, name="ticker-24hr"),
    path("ticker/bookTicker", views.book_ticker_view, name="book-ticker"),
    path("depth", views.depth_view, name="depth"),
    path("klines", views.klines_view, name="klines"),
    path("order", views.order_view, name="order"),
    path("order/test", views.test_order_view, name="order-test"),
    path("orderList/oco", views.oco_view, name="order-list-oco"),
    path("orderList/oto", views.oto_view, name="order-list-oto"),
    path("orderList/otoco", views.otoco_view, name="order-list-otoco"),
    path("orderList", views.order_list_view, name="order-list"),
    path("openOrderList", views.open_order_list_view, name="open-order-list"),
    path("allOrderList", views.all_order_list_view, name="all-order-list"),
    path("openOrders", views.open_orders_view, name="open-orders"),
    path("allOrders", views.all_orders_view, name="all-orders"),
    path("myTrades", views.my_trades_view, name="my-trades"),
    path("account", views.account_view, name="account"),
]
