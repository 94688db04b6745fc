from rest_framework.permissions import DjangoModelPermissions


class OrderPermissions(DjangoModelPermissions):
    """Anyone signed in reads; placing needs add_paperorder, cancelling and syncing need change_paperorder."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "DELETE": ["%(app_label)s.change_%(model_name)s"],
    }


class CanSyncOrders(DjangoModelPermissions):
    perms_map = {**DjangoModelPermissions.perms_map, "POST": ["%(app_label)s.change_%(model_name)s"]}
