from rest_framework.permissions import BasePermission

POST_PERMISSIONS = ("papertrading.add_paperorder", "analysis.add_analysisrun")


class RunPermissions(BasePermission):
    """Anyone signed in reads runs; posting one may place an order, so it needs both add permissions."""

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method == "POST":
            return request.user.has_perms(POST_PERMISSIONS)
        return True
