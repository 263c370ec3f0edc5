from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("", views.job_list, name="jobs"),
    path("start/", views.start_job, name="job-start"),
    path("<uuid:job_id>/", views.job_page, name="job"),
    path("<uuid:job_id>/events/", views.JobEvents.as_view(), name="job-events"),
]
