from rest_framework.permissions import DjangoModelPermissions


class ModelPermissions(DjangoModelPermissions):
    """Django's model permissions, judged on the view's class-level `queryset` (its model) alone.

    DRF would call `get_queryset()`, which finds the request's account: a caller without the permission would open
    an account (and, on the testnet, ask the exchange) before being refused.
    """

    def _queryset(self, view):
        return view.queryset


class OrderPermissions(ModelPermissions):
    """Anyone signed in reads; placing needs add_paperorder, cancelling and syncing need change_paperorder."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "DELETE": ["%(app_label)s.change_%(model_name)s"],
    }


class CanSyncOrders(ModelPermissions):
    perms_map = {**DjangoModelPermissions.perms_map, "POST": ["%(app_label)s.change_%(model_name)s"]}
