import django_filters

from ..models import OrderType, PaperOrder, Side, Venue


class OrderFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=PaperOrder.Status.choices)
    symbol = django_filters.CharFilter(method="filter_symbol")
    side = django_filters.ChoiceFilter(choices=Side.choices)
    order_type = django_filters.ChoiceFilter(choices=OrderType.choices)
    venue = django_filters.ChoiceFilter(choices=Venue.choices)
    run_id = django_filters.UUIDFilter()

    class Meta:
        model = PaperOrder
        fields = ["status", "symbol", "side", "order_type", "venue", "run_id"]

    def filter_symbol(self, queryset, name, value):
        return queryset.filter(symbol=value.upper())
