//! Credentials of web reads: AWS Signature Version 4 for `s3://` URLs (signed by libcurl),
//! bearer tokens and extra request headers, and `~/.netrc` (read by libcurl).
//!
//! # Why this module exists
//! Private data lives in buckets and behind logins. The HTTP layer ([`super::http`]) asks this
//! module three things: the HTTP URL of a name (`s3://` mapped to the store's endpoint), how to
//! set up a curl handle, and which headers to add to a request. Credentials are only ever given
//! to the *origins* (scheme, host, port) of the file and its `.dbi` as the user named them: a
//! redirect to any other host is followed without them, so a server cannot collect them by
//! redirecting. Every secret is a [`Secret`], whose `Debug` hides it, and no message or log line
//! of the web reader includes a header value or a query string.
//!
//! # Where credentials come from
//! * `s3://bucket/key`: `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`),
//!   else the profile `AWS_PROFILE` (default `default`) of `~/.aws/credentials` or
//!   `~/.aws/config` (`AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE`); none found: unsigned
//!   (anonymous) requests, which public buckets answer. Region: `web_s3_region`, `AWS_REGION`,
//!   `AWS_DEFAULT_REGION`, the profile's `region`, else `us-east-1`. Endpoint (S3-compatible
//!   stores, path-style addressing): `web_s3_endpoint`, `AWS_ENDPOINT_URL_S3`,
//!   `AWS_ENDPOINT_URL`, the profile's `endpoint_url`; else AWS.
//! * `http(s)://`: `web_bearer_token` / `SQLITE_WEB_BEARER_TOKEN` (sent as
//!   `Authorization: Bearer ...`), `web_headers` / `SQLITE_WEB_HEADERS` (lines `Name: value`),
//!   and `~/.netrc` for the host (HTTP Basic).

use super::s3;
use super::{WebError, WebErrorKind, WebOptions};
use crate::base::Secret;
use curl::easy::{Easy2, Handler, List, NetRc};
use std::collections::HashMap;

/// Parses request header lines (`Name: value`, one per line; blank lines ignored). An error
/// names the offending header by its name or position, never by its value.
pub(crate) fn parse_headers(key: &str, text: &str) -> Result<Vec<Secret>, WebError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().map(str::trim).enumerate() {
        if line.is_empty() {
            continue;
        }
        let bad = |why: &str| {
            WebError::new(
                WebErrorKind::InvalidInput,
                format!("{key}: header line {} {why}", i + 1),
            )
        };
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad("is not of the form \"Name: value\""));
        };
        let name = name.trim();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        {
            return Err(bad("has an invalid header name"));
        }
        if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
            return Err(bad(&format!(
                "({name}) has a control character in its value"
            )));
        }
        out.push(Secret::new(format!("{name}: {}", value.trim())));
    }
    Ok(out)
}

/// `scheme://host:port` of an http(s) URL, lower-cased, with the default port made explicit;
/// `None` for anything else.
pub(crate) fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => "80",
        "https" => "443",
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let hostport = authority.rsplit('@').next()?.to_ascii_lowercase();
    let has_port = hostport.rsplit_once(':').is_some_and(|(_, p)| {
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && !p.contains(']')
    });
    Some(if has_port {
        format!("{scheme}://{hostport}")
    } else {
        format!("{scheme}://{hostport}:{default_port}")
    })
}

/// AWS access keys.
#[derive(Clone, Debug)]
struct AwsKeys {
    access_key_id: Secret,
    secret_access_key: Secret,
    session_token: Option<Secret>,
}

/// How `s3://` URLs are reached and signed.
#[derive(Clone, Debug)]
struct S3Setup {
    endpoint: Option<String>,
    region: String,
    keys: Option<AwsKeys>,
}

/// The credentials of one open file (see the module docs).
#[derive(Clone, Debug)]
pub(crate) struct Auth {
    /// Origins that receive credentials: those of the file and of its `.dbi`.
    trusted: Vec<String>,
    /// `Some` when the file or its `.dbi` is an `s3://` URL.
    s3: Option<S3Setup>,
    /// Headers for trusted origins (bearer token, extra headers, AWS session token).
    headers: Vec<Secret>,
}

type Sections = HashMap<String, HashMap<String, Option<String>>>;

/// Reads an AWS INI file; a missing file is empty, a malformed one an error naming it.
fn read_ini(path: &str) -> Result<Sections, WebError> {
    match std::fs::read_to_string(path) {
        Ok(text) => configparser::ini::Ini::new_cs().read(text).map_err(|e| {
            WebError::new(
                WebErrorKind::InvalidInput,
                format!("cannot parse the AWS file {path}: {e}"),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Sections::new()),
        Err(e) => Err(WebError::new(
            WebErrorKind::Io,
            format!("cannot read the AWS file {path}: {e}"),
        )),
    }
}

/// The AWS settings that do not depend on the URL: keys, region and endpoint, from the
/// environment (`env`) and the shared AWS files.
fn aws_setup(opts: &WebOptions, env: &dyn Fn(&str) -> Option<String>) -> Result<S3Setup, WebError> {
    let var = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let home = var("HOME").unwrap_or_default();
    let profile_set = var("AWS_PROFILE").or_else(|| var("AWS_DEFAULT_PROFILE"));
    let profile = profile_set.clone().unwrap_or_else(|| "default".to_string());
    let cred_path =
        var("AWS_SHARED_CREDENTIALS_FILE").unwrap_or_else(|| format!("{home}/.aws/credentials"));
    let conf_path = var("AWS_CONFIG_FILE").unwrap_or_else(|| format!("{home}/.aws/config"));
    let creds = read_ini(&cred_path)?;
    let conf = read_ini(&conf_path)?;
    // ~/.aws/credentials names sections by the profile; ~/.aws/config by "profile NAME",
    // except "default".
    let sections: Vec<&HashMap<String, Option<String>>> = [
        creds.get(&profile),
        conf.get(&format!("profile {profile}")),
        (profile == "default")
            .then(|| conf.get("default"))
            .flatten(),
    ]
    .into_iter()
    .flatten()
    .collect();
    if profile_set.is_some() && sections.is_empty() {
        return Err(WebError::new(
            WebErrorKind::InvalidInput,
            format!("AWS_PROFILE={profile}: no such profile in {cred_path} or {conf_path}"),
        ));
    }
    let from_profile = |key: &str| {
        sections
            .iter()
            .find_map(|s| s.get(key).cloned().flatten())
            .filter(|v| !v.trim().is_empty())
    };
    let keys = match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => Some(AwsKeys {
            access_key_id: Secret::new(id),
            secret_access_key: Secret::new(secret),
            session_token: var("AWS_SESSION_TOKEN").map(Secret::new),
        }),
        (Some(_), None) | (None, Some(_)) => return Err(WebError::new(
            WebErrorKind::InvalidInput,
            "AWS credentials are incomplete: set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        )),
        (None, None) => match (
            from_profile("aws_access_key_id"),
            from_profile("aws_secret_access_key"),
        ) {
            (Some(id), Some(secret)) => Some(AwsKeys {
                access_key_id: Secret::new(id),
                secret_access_key: Secret::new(secret),
                session_token: from_profile("aws_session_token").map(Secret::new),
            }),
            (None, None) => None,
            _ => {
                return Err(WebError::new(
                    WebErrorKind::InvalidInput,
                    format!(
                        "AWS profile {profile:?} has only one of aws_access_key_id and \
                         aws_secret_access_key"
                    ),
                ))
            }
        },
    };
    let region = opts
        .s3_region
        .clone()
        .or_else(|| var("AWS_REGION"))
        .or_else(|| var("AWS_DEFAULT_REGION"))
        .or_else(|| from_profile("region"))
        .unwrap_or_else(|| "us-east-1".to_string());
    if region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(WebError::new(
            WebErrorKind::InvalidInput,
            format!("AWS region {region:?} is malformed"),
        ));
    }
    let endpoint = opts
        .s3_endpoint
        .clone()
        .or_else(|| var("AWS_ENDPOINT_URL_S3"))
        .or_else(|| var("AWS_ENDPOINT_URL"))
        .or_else(|| from_profile("endpoint_url"));
    if let Some(e) = &endpoint {
        if origin(e).is_none() {
            return Err(WebError::new(
                WebErrorKind::InvalidInput,
                format!("S3 endpoint {e:?} must be an http:// or https:// URL"),
            ));
        }
    }
    Ok(S3Setup {
        endpoint,
        region,
        keys,
    })
}

impl Auth {
    /// Resolves the credentials for the file `url` (and its `.dbi`) from `opts` and the
    /// process environment.
    pub(crate) fn new(opts: &WebOptions, url: &str) -> Result<Auth, WebError> {
        Auth::resolve(opts, url, &|k| std::env::var(k).ok())
    }

    /// [`new`](Self::new) with a custom environment (for tests).
    pub(crate) fn resolve(
        opts: &WebOptions,
        url: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Auth, WebError> {
        let dbi = opts.dbi_url.as_deref().filter(|_| !opts.nodbi);
        let uses_s3 = std::iter::once(url).chain(dbi).any(s3::is_s3_url);
        let mut auth = Auth {
            trusted: Vec::new(),
            s3: if uses_s3 {
                Some(aws_setup(opts, env)?)
            } else {
                None
            },
            headers: Vec::new(),
        };
        for u in std::iter::once(url).chain(dbi) {
            if let Some(o) = auth.http_url(u).ok().as_deref().and_then(origin) {
                auth.trusted.push(o);
            }
        }
        let signing = auth.s3.as_ref().is_some_and(|s| s.keys.is_some());
        if let Some(token) = auth
            .s3
            .as_ref()
            .and_then(|s| s.keys.as_ref()?.session_token.as_ref())
        {
            auth.headers.push(Secret::new(format!(
                "x-amz-security-token: {}",
                token.expose()
            )));
        }
        // SigV4 owns the Authorization header of signed requests.
        if let Some(token) = opts.bearer_token.as_ref().filter(|_| !signing) {
            auth.headers.push(Secret::new(format!(
                "Authorization: Bearer {}",
                token.expose()
            )));
        }
        auth.headers.extend(opts.headers.iter().cloned());
        Ok(auth)
    }

    /// The HTTP(S) URL to request for `url`: `s3://` URLs mapped to their endpoint, anything
    /// else as it is.
    pub(crate) fn http_url(&self, url: &str) -> Result<String, WebError> {
        if !s3::is_s3_url(url) {
            return Ok(url.to_string());
        }
        let object = s3::parse(url)?;
        let setup = self.s3.as_ref().ok_or_else(|| {
            WebError::new(
                WebErrorKind::InvalidInput,
                "internal: S3 settings not resolved",
            )
        })?;
        Ok(object.http_url(setup.endpoint.as_deref(), &setup.region))
    }

    /// Whether requests to `http_url` carry the credentials (its origin is the file's or the
    /// `.dbi`'s). A presigned URL carries its own signature: S3 refuses a second one.
    pub(crate) fn trusts(&self, http_url: &str) -> bool {
        let presigned = self.signs() && http_url.contains("X-Amz-Signature=");
        !presigned && origin(http_url).is_some_and(|o| self.trusted.contains(&o))
    }

    /// Sets up a new curl handle for requests to a trusted origin (`trusted`) or any other.
    pub(crate) fn configure<H: Handler>(
        &self,
        h: &mut Easy2<H>,
        trusted: bool,
    ) -> Result<(), curl::Error> {
        match self.s3.as_ref().and_then(|s| Some((s, s.keys.as_ref()?))) {
            Some((setup, keys)) if trusted => {
                h.username(keys.access_key_id.expose())?;
                h.password(keys.secret_access_key.expose())?;
                h.aws_sigv4(&format!("aws:amz:{}:s3", setup.region))?;
            }
            // netrc names hosts itself, so it is safe for any origin; S3 endpoints get none
            // (Basic credentials would only spoil a signed or anonymous request).
            _ if self.s3.is_none() || !trusted => h.netrc(NetRc::Optional)?,
            _ => {}
        }
        Ok(())
    }

    /// Adds the credential headers to a request to a trusted origin (nothing if not trusted).
    pub(crate) fn add_headers(&self, trusted: bool, list: &mut List) -> Result<(), curl::Error> {
        if trusted {
            for h in &self.headers {
                list.append(h.expose())?;
            }
        }
        Ok(())
    }

    /// Whether requests to a trusted origin are SigV4-signed.
    fn signs(&self) -> bool {
        self.s3.as_ref().is_some_and(|s| s.keys.is_some())
    }

    /// A message for a failed request to `url` (as the user named it), or `None` to keep the
    /// generic one: S3's error codes explained for `s3://` URLs, a hint about credentials for
    /// 401/403 elsewhere.
    pub(crate) fn explain(
        &self,
        url: &str,
        status: u32,
        body: &[u8],
        bucket_region: Option<&str>,
    ) -> Option<String> {
        if let (Some(setup), Ok(object)) = (&self.s3, s3::parse(url)) {
            let cx = s3::Context {
                object: &object,
                signed: setup.keys.is_some(),
                region: &setup.region,
            };
            return s3::explain(&cx, status, body, bucket_region);
        }
        if !matches!(status, 401 | 403) {
            return None;
        }
        let sent = self.headers.iter().any(|h| {
            h.expose()
                .get(..14)
                .is_some_and(|p| p.eq_ignore_ascii_case("authorization:"))
        });
        Some(if sent {
            format!(
                "{}: HTTP {status}: the server refused the bearer token or Authorization header",
                super::display_url(url)
            )
        } else {
            format!(
                "{}: HTTP {status} ({}); no bearer token was configured \
                 (web_bearer_token, SQLITE_WEB_BEARER_TOKEN) and ~/.netrc had no login it accepted",
                super::display_url(url),
                if status == 401 {
                    "unauthorized"
                } else {
                    "forbidden"
                }
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn origins() {
        assert_eq!(
            origin("https://H.example/x").as_deref(),
            Some("https://h.example:443")
        );
        assert_eq!(
            origin("http://u:p@h:8080/x?y").as_deref(),
            Some("http://h:8080")
        );
        assert_eq!(origin("http://[::1]/x").as_deref(), Some("http://[::1]:80"));
        assert_eq!(origin("s3://b/k"), None);
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        let o = WebOptions {
            bearer_token: Some(s),
            ..WebOptions::default()
        };
        assert!(!format!("{o:?}").contains("hunter2"));
        let a = Auth::resolve(&o, "https://h/x", &env(&[])).unwrap();
        assert!(!format!("{a:?}").contains("hunter2"));
    }

    #[test]
    fn header_lines() {
        let h = parse_headers("k", "X-Api-Key: abc\n\nX-Other:  d e ").unwrap();
        assert_eq!(h[0].expose(), "X-Api-Key: abc");
        assert_eq!(h[1].expose(), "X-Other: d e");
        let e = parse_headers("k", "no colon secretvalue").unwrap_err();
        assert!(!e.to_string().contains("secretvalue"), "{e}");
        assert!(parse_headers("k", "Bad Name: v").is_err());
    }

    #[test]
    fn s3_credentials_and_endpoint() {
        let o = WebOptions::default();
        let a = Auth::resolve(
            &o,
            "s3://bkt/a/b.gsq",
            &env(&[
                ("AWS_ACCESS_KEY_ID", "AKID"),
                ("AWS_SECRET_ACCESS_KEY", "SECRET"),
                ("AWS_SESSION_TOKEN", "TOKEN"),
                ("AWS_REGION", "eu-west-1"),
                ("HOME", "/nonexistent"),
            ]),
        )
        .unwrap();
        assert!(a.signs());
        let u = a.http_url("s3://bkt/a/b.gsq").unwrap();
        assert_eq!(u, "https://bkt.s3.eu-west-1.amazonaws.com/a/b.gsq");
        assert!(a.trusts(&u));
        assert!(a.trusts(&format!("{u}.dbi")));
        assert!(!a.trusts("https://elsewhere.example/a/b.gsq"));
        assert!(a.headers[0]
            .expose()
            .starts_with("x-amz-security-token: TOKEN"));

        let a = Auth::resolve(
            &o,
            "s3://bkt/k",
            &env(&[
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000"),
                ("HOME", "/nonexistent"),
            ]),
        )
        .unwrap();
        assert!(!a.signs(), "no credentials: anonymous");
        assert_eq!(
            a.http_url("s3://bkt/k").unwrap(),
            "http://127.0.0.1:9000/bkt/k"
        );

        let e = Auth::resolve(&o, "s3://bkt/k", &env(&[("AWS_ACCESS_KEY_ID", "x")])).unwrap_err();
        assert!(e.to_string().contains("AWS_SECRET_ACCESS_KEY"), "{e}");
        let e = Auth::resolve(
            &o,
            "s3://bkt/k",
            &env(&[("AWS_PROFILE", "nope"), ("HOME", "/nonexistent")]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("AWS_PROFILE=nope"), "{e}");
    }

    #[test]
    fn profiles_from_files() {
        let dir = std::env::temp_dir().join(format!("gsq-aws-test-{}", std::process::id()));
        let aws = dir.join(".aws");
        std::fs::create_dir_all(&aws).unwrap();
        std::fs::write(
            aws.join("credentials"),
            "[default]\naws_access_key_id = D\naws_secret_access_key = DS\n\n[lab]\naws_access_key_id = L\naws_secret_access_key = LS\n",
        )
        .unwrap();
        std::fs::write(
            aws.join("config"),
            "[profile lab]\nregion = ap-south-1\nendpoint_url = https://store.example\n",
        )
        .unwrap();
        let home = dir.to_str().unwrap();
        let o = WebOptions::default();
        let a = Auth::resolve(
            &o,
            "s3://bkt/k",
            &env(&[("HOME", home), ("AWS_PROFILE", "lab")]),
        )
        .unwrap();
        let s = a.s3.as_ref().unwrap();
        assert_eq!(s.keys.as_ref().unwrap().access_key_id.expose(), "L");
        assert_eq!(s.region, "ap-south-1");
        assert_eq!(
            a.http_url("s3://bkt/k").unwrap(),
            "https://store.example/bkt/k"
        );
        let a = Auth::resolve(&o, "s3://bkt/k", &env(&[("HOME", home)])).unwrap();
        let s = a.s3.as_ref().unwrap();
        assert_eq!(s.keys.as_ref().unwrap().secret_access_key.expose(), "DS");
        assert_eq!(s.region, "us-east-1");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bearer_goes_only_to_trusted_plain_http() {
        let o = WebOptions {
            bearer_token: Some(Secret::new("tok")),
            headers: vec![Secret::new("X-Api-Key: k")],
            ..WebOptions::default()
        };
        let a = Auth::resolve(&o, "https://h/x.gsq", &env(&[])).unwrap();
        let lines: Vec<&str> = a.headers.iter().map(Secret::expose).collect();
        assert_eq!(lines, ["Authorization: Bearer tok", "X-Api-Key: k"]);
        assert!(a.trusts("https://h:443/x.gsq.dbi"));
        assert!(!a.trusts("https://other/x.gsq"));
        assert!(
            !a.trusts("http://h/x.gsq"),
            "another scheme is another origin"
        );
    }
}
