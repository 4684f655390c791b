"""The caseworkers' pages: server-rendered HTML on top of the same service and policy as the API,
one module per page family.

Every page works without JavaScript (the server evaluates skip logic, calculations and errors
on every save and re-renders); with JavaScript the form re-evaluates live in the browser.
"""

from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from engine.web.pages import audit, auth, emergency, forms, home, lists, offline, records, reports
from renderers import html as renderer

ROUTES = [
    Route("/", home.home, methods=["GET"]),
    Route("/favicon.ico", auth.favicon, methods=["GET"]),
    Route("/locale", auth.set_locale, methods=["POST"]),
    Route("/login", auth.login_page, methods=["GET"]),
    Route("/login", auth.login_submit, methods=["POST"]),
    Route("/logout", auth.logout_submit, methods=["POST"]),
    *auth.ACCOUNT_ROUTES,
    Route("/audit", audit.audit_page, methods=["GET"]),
    Route("/queue", home.queue_page, methods=["GET"]),
    Route("/emergency", emergency.emergency_page, methods=["GET"]),
    Route("/emergency", emergency.emergency_submit, methods=["POST"]),
    Route("/emergency/{id}/end", emergency.emergency_end, methods=["POST"]),
    Route("/offline", offline.offline_home, methods=["GET"]),
    Route("/offline/form/{record_type}/{form}", offline.offline_form, methods=["GET"]),
    Route("/sw.js", offline.service_worker, methods=["GET"]),
    Route("/manifest.webmanifest", offline.manifest, methods=["GET"]),
    Route("/reports", reports.report_index, methods=["GET"]),
    Route("/exports", reports.export_submit, methods=["POST"]),
    Route("/reports/{report}", reports.report_page, methods=["GET"]),
    Route("/records/{record_type}", lists.record_list, methods=["GET"]),
    Route("/records/{record_type}/new", records.record_new, methods=["POST"]),
    Route("/records/{record_type}/{id}", records.record_page, methods=["GET"]),
    Route("/records/{record_type}/{id}/reveal", lists.reveal, methods=["POST"]),
    Route("/records/{record_type}/{id}/assign", records.record_assign, methods=["POST"]),
    Route("/records/{record_type}/{id}/assignments/{username}/end", records.record_unassign, methods=["POST"]),
    Route("/records/{record_type}/{id}/transitions/{transition}", records.record_transition, methods=["POST"]),
    Route("/records/{record_type}/{id}/forms/{form}", forms.form_page, methods=["GET"]),
    Route("/records/{record_type}/{id}/forms/{form}", forms.form_submit, methods=["POST"]),
    Route("/referrals/{id}/{decision}", records.referral_answer, methods=["POST"]),
    Mount("/static", app=StaticFiles(directory=renderer.STATIC), name="static"),
]
