"""Accounts appear only as members inside a workspace's pages, so Django's own
User and Group admins are not registered, and neither is django-auditlog's."""

from django.contrib import admin
from django.contrib.auth.models import Group

for model in (Group,):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
