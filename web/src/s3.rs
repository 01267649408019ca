//! `s3://bucket/key` URLs: where the object is over HTTPS, and what an S3 error response means.
//!
//! Signing is libcurl's (`CURLOPT_AWS_SIGV4`, set up in [`super::auth`]); this module only maps
//! names to URLs and turns S3's XML error bodies into messages that say what to fix.

use super::{WebError, WebErrorKind};

/// An object named by an `s3://bucket/key` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct S3Object {
    pub bucket: String,
    pub key: String,
}

/// True for `s3://` URLs (case-insensitive scheme).
pub(crate) fn is_s3_url(url: &str) -> bool {
    url.get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case("s3://"))
}

/// Parses `s3://bucket/key`. The key is taken literally (it is percent-encoded when mapped).
pub(crate) fn parse(url: &str) -> Result<S3Object, WebError> {
    let bad = |why: &str| {
        WebError::new(
            WebErrorKind::InvalidInput,
            format!("malformed S3 URL {url:?}: {why} (expected s3://bucket/key)"),
        )
    };
    let rest = url
        .get(5..)
        .filter(|_| is_s3_url(url))
        .ok_or_else(|| bad("not s3://"))?;
    if rest.contains(['?', '#']) {
        return Err(bad(
            "a query string is not allowed; for a presigned URL use its https:// form",
        ));
    }
    let (bucket, key) = rest.split_once('/').ok_or_else(|| bad("no key"))?;
    // Bucket names: 3-63 of lower-case letters, digits, '.', '-' (S3's rules; S3-compatible
    // stores are at least this strict), so they are safe in a host name or a path.
    if bucket.len() < 3
        || bucket.len() > 63
        || !bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Err(bad(
            "the bucket name must be 3-63 lower-case letters, digits, '.' or '-'",
        ));
    }
    if key.is_empty() {
        return Err(bad("no key"));
    }
    Ok(S3Object {
        bucket: bucket.to_string(),
        key: key.to_string(),
    })
}

impl S3Object {
    /// The object's HTTP(S) URL. With an `endpoint` (an S3-compatible store, or a private AWS
    /// endpoint) path-style: `ENDPOINT/bucket/key`; on AWS virtual-hosted style
    /// `https://bucket.s3.REGION.amazonaws.com/key`, or path-style for bucket names with dots
    /// (which do not match the wildcard TLS certificate).
    pub fn http_url(&self, endpoint: Option<&str>, region: &str) -> String {
        let key = crate::base::percent_encode(&self.key, true);
        match endpoint {
            Some(e) => format!("{}/{}/{key}", e.trim_end_matches('/'), self.bucket),
            None if self.bucket.contains('.') => {
                format!("https://s3.{region}.amazonaws.com/{}/{key}", self.bucket)
            }
            None => format!("https://{}.s3.{region}.amazonaws.com/{key}", self.bucket),
        }
    }

    /// `s3://bucket/key`, for messages.
    pub fn name(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// The text of the first `<tag>...</tag>` in an S3 XML error body (S3 error bodies are small,
/// flat and machine-written; entities are left as they are).
fn xml_field<'a>(body: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = body.find(&open)? + open.len();
    let len = body[start..].find(&format!("</{tag}>"))?;
    Some(body[start..start + len].trim())
}

/// What failed request this explains: the object, whether the request was signed, and the
/// region it was signed for.
pub(crate) struct Context<'a> {
    pub object: &'a S3Object,
    pub signed: bool,
    pub region: &'a str,
}

/// A message for an S3 error response (`status`, XML `body`, `x-amz-bucket-region` header), or
/// `None` when the response is not one S3 documents.
pub(crate) fn explain(
    cx: &Context,
    status: u32,
    body: &[u8],
    bucket_region: Option<&str>,
) -> Option<String> {
    let body = String::from_utf8_lossy(body);
    let code = xml_field(&body, "Code").unwrap_or("");
    let server_msg = xml_field(&body, "Message").unwrap_or("");
    let name = cx.object.name();
    let detail = if code.is_empty() {
        format!("HTTP {status}")
    } else if server_msg.is_empty() {
        format!("S3 {code}, HTTP {status}")
    } else {
        format!("S3 {code}: {server_msg}, HTTP {status}")
    };
    let expected_region = bucket_region
        .map(str::to_string)
        .or_else(|| xml_field(&body, "Region").map(str::to_string))
        .or_else(|| {
            // AuthorizationHeaderMalformed: "... the region 'us-east-1' is wrong; expecting 'eu-west-1'"
            let m = server_msg.split("expecting '").nth(1)?;
            Some(m.split('\'').next()?.to_string())
        })
        .filter(|r| !r.is_empty() && r != cx.region);
    let what = match (status, code) {
        (_, "RequestTimeTooSkewed") => format!(
            "{name}: the system clock is too far from the server's ({detail}); \
             correct the clock (e.g. with NTP)"
        ),
        (
            _,
            "AuthorizationHeaderMalformed"
            | "PermanentRedirect"
            | "IllegalLocationConstraintException",
        )
        | (301, _)
            if expected_region.is_some() =>
        {
            let r = expected_region.unwrap_or_default();
            format!(
                "{name}: wrong region: the bucket is in {r}, requests were signed for {} ({detail}); \
                 set AWS_REGION={r} or web_s3_region",
                cx.region
            )
        }
        (_, "NoSuchKey") | (404, "") => format!("{name}: no such key ({detail})"),
        (_, "NoSuchBucket") => format!("{name}: no such bucket {:?} ({detail})", cx.object.bucket),
        (_, "InvalidAccessKeyId") => format!(
            "{name}: the AWS access key id is not known to the server ({detail}); \
             check AWS_ACCESS_KEY_ID or the profile in ~/.aws/credentials"
        ),
        (_, "SignatureDoesNotMatch") => format!(
            "{name}: the signature does not match ({detail}); \
             check the AWS secret access key for this access key id"
        ),
        (_, "ExpiredToken" | "InvalidToken" | "TokenRefreshRequired") => format!(
            "{name}: the AWS session token is expired or invalid ({detail}); \
             renew AWS_SESSION_TOKEN"
        ),
        (401 | 403, _) if !cx.signed => format!(
            "{name}: access denied ({detail}); no AWS credentials were found \
             (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE in ~/.aws/credentials), \
             so the request was sent unsigned, which only public buckets allow"
        ),
        (401 | 403, _) => format!(
            "{name}: access denied ({detail}); the credentials are valid but may not read \
             this bucket/key"
        ),
        (404, _) => format!("{name}: not found ({detail})"),
        _ if code.is_empty() => return None,
        _ => format!("{name}: {detail}"),
    };
    Some(what)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj() -> S3Object {
        parse("s3://my-bucket/dir/genes db.gsq").unwrap()
    }

    #[test]
    fn urls() {
        let o = obj();
        assert_eq!(o.key, "dir/genes db.gsq");
        assert_eq!(
            o.http_url(None, "eu-west-1"),
            "https://my-bucket.s3.eu-west-1.amazonaws.com/dir/genes%20db.gsq"
        );
        assert_eq!(
            o.http_url(Some("http://127.0.0.1:9000/"), "us-east-1"),
            "http://127.0.0.1:9000/my-bucket/dir/genes%20db.gsq"
        );
        assert_eq!(
            parse("s3://a.b.c/k").unwrap().http_url(None, "us-east-1"),
            "https://s3.us-east-1.amazonaws.com/a.b.c/k"
        );
        for bad in [
            "s3://bucket",
            "s3://bucket/",
            "s3://B/k",
            "s3://ab/k",
            "s3://b-1/k?x=1",
            "http://x/y",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    fn say(signed: bool, status: u32, body: &str, hdr: Option<&str>) -> String {
        let o = obj();
        let cx = Context {
            object: &o,
            signed,
            region: "us-east-1",
        };
        explain(&cx, status, body.as_bytes(), hdr).unwrap_or_default()
    }

    #[test]
    fn errors_say_what_to_fix() {
        let xml = |code: &str, msg: &str| {
            format!("<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>{msg}</Message><RequestId>1</RequestId></Error>")
        };
        let m = say(
            true,
            403,
            &xml(
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
            ),
            None,
        );
        assert!(m.contains("clock"), "{m}");
        let m = say(true, 400, &xml("AuthorizationHeaderMalformed", "The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'"), None);
        assert!(
            m.contains("wrong region") && m.contains("AWS_REGION=eu-west-1"),
            "{m}"
        );
        let m = say(true, 301, "", Some("ap-south-1"));
        assert!(m.contains("AWS_REGION=ap-south-1"), "{m}");
        let m = say(
            true,
            404,
            &xml("NoSuchKey", "The specified key does not exist."),
            None,
        );
        assert!(
            m.contains("s3://my-bucket/dir/genes db.gsq: no such key"),
            "{m}"
        );
        let m = say(false, 403, &xml("AccessDenied", "Access Denied"), None);
        assert!(
            m.contains("no AWS credentials were found") && m.contains("s3://my-bucket/"),
            "{m}"
        );
        let m = say(true, 403, &xml("AccessDenied", "Access Denied"), None);
        assert!(
            m.contains("access denied") && m.contains("s3://my-bucket/dir/genes db.gsq"),
            "{m}"
        );
        let m = say(true, 403, &xml("SignatureDoesNotMatch", "x"), None);
        assert!(m.contains("secret access key"), "{m}");
        assert_eq!(say(true, 500, "plain text", None), "");
    }
}
