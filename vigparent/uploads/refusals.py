"""Why an upload is refused: each refusal is one JSON error with its HTTP status, its code
(listed in docs/upload-contract.md) and the plain words the parent reads."""

from __future__ import annotations

from vigparent.containers import NOT_A_VIDEO
from vigparent.recordings.service import RecordingRefused


class UploadRefused(RecordingRefused):
    status = 400
    code = "bad_request"
    title = "Something went wrong with sending"
    message = "Something went wrong while sending your video. It is still on your phone."


class BadUploadRequest(UploadRefused):
    pass


class BadMetadata(UploadRefused):
    code = "bad_metadata"


class UploadNotFound(UploadRefused):
    status = 404
    code = "not_found"
    title = "We can't find that upload"
    message = "We can't find that upload. We will start sending your video again."


class OffsetMismatch(UploadRefused):
    status = 409
    code = "offset_mismatch"
    title = "Part of this video was already sent"
    message = "We already have part of this video. We will carry on from where we got to."

    def __init__(self, offset: int) -> None:
        super().__init__()
        self.offset = offset


class LengthMismatch(UploadRefused):
    status = 409
    code = "length_mismatch"
    message = "This video does not match the one we started to receive. It is still on your phone."


class AlreadySent(UploadRefused):
    status = 409
    code = "already_sent"
    title = "This video has already been sent"
    message = "This video has already been sent, so it can't be stopped now."


class UploadExpired(UploadRefused):
    status = 410
    code = "expired"
    title = "This upload took too long"
    message = "This upload was left for too long, so we will send your video again from the start."


class UploadGone(UploadRefused):
    status = 410
    code = "rejected"
    title = "We could not use this video"


class UploadTooLarge(UploadRefused):
    status = 413
    code = "too_large"
    title = "This video is too big"
    message = "This video is too big to send. Please record a shorter one (10 minutes at most)."


class WrongContentType(UploadRefused):
    status = 415
    code = "wrong_content_type"


class NotAVideo(UploadRefused):
    status = 415
    code = "not_a_video"
    title = "We can't use this file"
    message = NOT_A_VIDEO


class UploadBusy(UploadRefused):
    status = 423
    code = "busy"
    title = "This video is already being sent"
    message = "This video is already being sent. We will try again in a moment."


class ChecksumMismatch(UploadRefused):
    status = 460
    code = "checksum_mismatch"
    title = "Part of this video was damaged on the way"
    message = "Part of your video was damaged on the way. We will send that part again."


class ClientGone(UploadRefused):
    """The connection dropped mid-body; what arrived is kept (unless checksummed)."""

    code = "interrupted"
