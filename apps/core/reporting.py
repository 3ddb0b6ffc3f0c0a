"""Error reports that never show request data or frame variables.

Django's debug page and its error e-mails print local variables and POST data,
and a tool call or a secret form has decrypted values in both. This filter
replaces all of them, in every mode, so no report can carry a secret.
"""

from django.views.debug import SafeExceptionReporterFilter


class RedactingExceptionReporterFilter(SafeExceptionReporterFilter):
    def is_active(self, request) -> bool:
        return True

    def get_post_parameters(self, request) -> dict:
        if request is None:
            return {}
        return {name: self.cleansed_substitute for name in request.POST}

    def get_traceback_frame_variables(self, request, tb_frame) -> list:
        return [(name, self.cleansed_substitute) for name in tb_frame.f_locals]
