from __future__ import annotations

from django.urls import path

from . import views

app_name = "inboxes"

urlpatterns = [
    path("", views.inbox_list, name="list"),
    path("new/", views.inbox_new, name="new"),
    path("<int:inbox_id>/", views.inbox_detail, name="detail"),
    path("<int:inbox_id>/edit/", views.inbox_edit, name="edit"),
    path("<int:inbox_id>/delete/", views.inbox_remove, name="delete"),
    path("<int:inbox_id>/test-connection/", views.inbox_test_connection, name="test_connection"),
    path("<int:inbox_id>/messages/<int:email_id>/reprocess/", views.processed_email_retry, name="reprocess"),
    path("<int:inbox_id>/messages/<int:email_id>/raw/", views.processed_email_download, name="raw"),
    path("<int:inbox_id>/outgoing/<int:mail_id>/retry/", views.outgoing_mail_retry_view, name="retry_mail"),
]
