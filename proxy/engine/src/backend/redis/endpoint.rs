//! The server a `redis://` URL names, parsed the way the plugin's redis-py reads it:
//! `redis://[user[:password]@]host[:port][/db]`, user and password percent-decoded,
//! port 6379 and database 0 by default. Errors never quote the URL: it may carry a
//! password.

use std::fmt;

pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    pub db: u32,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("db", &self.db)
            .finish()
    }
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Self, String> {
        let rest = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("redis") => rest,
            _ => return Err("only redis:// URLs are read natively".into()),
        };
        if rest.contains(['?', '#']) {
            return Err("a redis:// URL with a query string is not read natively".into());
        }
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(info) => {
                let (user, password) = match info.split_once(':') {
                    Some((user, password)) => (user, Some(percent_decode(password)?)),
                    None => (info, None),
                };
                let user = if user.is_empty() { None } else { Some(percent_decode(user)?) };
                (user, password)
            }
        };
        let (host, port) = split_host_port(hostport)?;
        let db = match path.trim_matches('/') {
            "" => 0,
            db => db.parse().map_err(|_| format!("the database '{db}' in the URL is not a number"))?,
        };
        Ok(Self { host, port, username, password, db })
    }

    /// `host:port`, for messages.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

fn split_host_port(hostport: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or("unclosed '[' in the URL's host")?;
        (host, after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err("the URL names no host".into());
    }
    let port = match port {
        None | Some("") => 6379,
        Some(port) => {
            port.parse().map_err(|_| format!("the port '{port}' in the URL is not a port number"))?
        }
    };
    Ok((host.to_string(), port))
}

fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(byte.ok_or("bad percent-escape in the URL's user or password")?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the URL's user or password is not UTF-8 once decoded".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_parts_redis_py_reads() {
        let e = Endpoint::parse("redis://127.0.0.1:26379/0").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.db), ("127.0.0.1", 26379, 0));
        assert_eq!((e.username, e.password), (None, None));

        let e = Endpoint::parse("redis://app:p%40ss%3Aw@cache.local/3").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.db), ("cache.local", 6379, 3));
        assert_eq!(e.username.as_deref(), Some("app"));
        assert_eq!(e.password.as_deref(), Some("p@ss:w"));

        let e = Endpoint::parse("REDIS://:secret@[::1]:7000").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.address()), ("::1", 7000, "[::1]:7000".to_string()));
        assert_eq!((e.username, e.password.as_deref()), (None, Some("secret")));
    }

    #[test]
    fn refuses_what_it_cannot_read_without_quoting_the_password() {
        for url in [
            "rediss://u:hunter2@h:1/0",
            "unix:///tmp/redis.sock",
            "redis://u:hunter2@h:1/0?protocol=3",
            "redis://u:hunter2@h:port/0",
            "redis://u:hunter2@h:1/zero",
            "redis://u:hunter2@:1/0",
        ] {
            let err = Endpoint::parse(url).unwrap_err();
            assert!(!err.contains("hunter2"), "{err}");
        }
        let debug = format!("{:?}", Endpoint::parse("redis://u:hunter2@h:1/0").unwrap());
        assert!(!debug.contains("hunter2") && debug.contains("<redacted>"), "{debug}");
    }
}
