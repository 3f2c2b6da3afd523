//! A namespace access policy compiled for the hot path (ADR-010). Selectors are
//! parsed once when the namespace config is applied; checking a call is then a
//! flag test for `*` (the default policy) or a short scan of typed selectors.

use crate::config::AccessPolicy;
use crate::identity::Identity;
use crate::routes_generated::Permission;
use crate::PrismError;

/// One parsed selector of an access list.
#[derive(Debug, Clone, PartialEq)]
enum Selector {
    /// `<principal>`: anything without a reserved prefix, so principals that contain
    /// a colon (`spiffe://...` certificate identities) still work.
    Principal(String),
    /// `group:<name>`: one of the groups of the caller's JWT.
    Group(String),
    /// `claim:<name>=<value>`: a JWT claim equal to the value, or a list claim holding it.
    Claim { name: String, value: String },
    /// `cert:<identity>`: the client certificate identity under mTLS.
    Cert(String),
}

impl Selector {
    fn parse(text: &str) -> Result<Self, String> {
        let nonempty = |kind: &str, rest: &str| {
            if rest.is_empty() {
                Err(format!("'{text}' names no {kind}"))
            } else {
                Ok(rest.to_string())
            }
        };
        if let Some(rest) = text.strip_prefix("group:") {
            return nonempty("group", rest).map(Selector::Group);
        }
        if let Some(rest) = text.strip_prefix("cert:") {
            return nonempty("certificate identity", rest).map(Selector::Cert);
        }
        if let Some(rest) = text.strip_prefix("claim:") {
            let (name, value) =
                rest.split_once('=').ok_or_else(|| format!("'{text}' must be claim:<name>=<value>"))?;
            if name.is_empty() {
                return Err(format!("'{text}' names no claim"));
            }
            return Ok(Selector::Claim { name: name.to_string(), value: value.to_string() });
        }
        if text.is_empty() || text.trim() != text {
            return Err(format!("'{text}' is not a principal (empty or surrounded by spaces)"));
        }
        Ok(Selector::Principal(text.to_string()))
    }

    fn matches(&self, identity: &Identity) -> bool {
        match self {
            Selector::Principal(p) => identity.principal == *p,
            Selector::Group(g) => identity.groups.iter().any(|have| have == g),
            Selector::Cert(c) => identity.cert.as_deref() == Some(c.as_str()),
            Selector::Claim { name, value } => identity.claims.get(name).is_some_and(|v| claim_is(v, value)),
        }
    }
}

/// A claim matches when it is the value (strings, and numbers and booleans by their
/// JSON text) or is a list holding it.
fn claim_is(claim: &serde_json::Value, value: &str) -> bool {
    use serde_json::Value;
    match claim {
        Value::String(s) => s == value,
        Value::Number(n) => n.to_string() == value,
        Value::Bool(b) => (if *b { "true" } else { "false" }) == value,
        Value::Array(items) => items.iter().any(|item| !item.is_array() && claim_is(item, value)),
        Value::Null | Value::Object(_) => false,
    }
}

/// Who holds one permission.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Holders {
    /// `*` is listed: anyone, `anonymous` included; the check is one flag test.
    anyone: bool,
    selectors: Vec<Selector>,
}

impl Holders {
    fn compile(field: &str, list: &[String]) -> Result<Self, PrismError> {
        let mut holders = Holders::default();
        for (i, text) in list.iter().enumerate() {
            if text == "*" {
                holders.anyone = true;
                continue;
            }
            let selector = Selector::parse(text).map_err(|why| {
                PrismError::invalid(format!("{field}[{i}]"), format!("{field}[{i}]: {why}"))
            })?;
            holders.selectors.push(selector);
        }
        Ok(holders)
    }

    pub fn admits(&self, identity: &Identity) -> bool {
        self.anyone || self.selectors.iter().any(|s| s.matches(identity))
    }
}

/// The compiled `access` of one namespace. Permissions are independent: `admin`
/// implies neither `write` nor `pii_read`.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    read: Holders,
    write: Holders,
    admin: Holders,
    pii_read: Holders,
}

impl Policy {
    /// `path` prefixes field names in errors, e.g. `namespaces[orders].access`.
    pub fn compile(path: &str, access: &AccessPolicy) -> Result<Self, PrismError> {
        Ok(Self {
            read: Holders::compile(&format!("{path}.read"), &access.read)?,
            write: Holders::compile(&format!("{path}.write"), &access.write)?,
            admin: Holders::compile(&format!("{path}.admin"), &access.admin)?,
            pii_read: Holders::compile(&format!("{path}.pii_read"), &access.pii_read)?,
        })
    }

    pub fn permits(&self, permission: Permission, identity: &Identity) -> bool {
        self.holders(permission).admits(identity)
    }

    pub fn may_read_pii(&self, identity: &Identity) -> bool {
        self.pii_read.admits(identity)
    }

    fn holders(&self, permission: Permission) -> &Holders {
        match permission {
            Permission::Read => &self.read,
            Permission::Write => &self.write,
            Permission::Admin => &self.admin,
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self::compile("access", &AccessPolicy::default()).expect("the default policy is valid")
    }
}

/// Lower-case name of a permission, as in the config and in denial messages.
pub fn permission_name(permission: Permission) -> &'static str {
    match permission {
        Permission::Read => "read",
        Permission::Write => "write",
        Permission::Admin => "admin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn identity(principal: &str, groups: &[&str], claims: serde_json::Value, cert: Option<&str>) -> Identity {
        Identity {
            principal: principal.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            claims: claims.as_object().cloned().unwrap_or_default(),
            cert: cert.map(str::to_string),
        }
    }

    fn holders(list: &[&str]) -> Holders {
        Holders::compile("read", &list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn selectors_match_their_part_of_the_identity() {
        let alice =
            identity("alice", &["ops"], json!({"tier": "gold", "roles": ["a", "b"], "n": 3}), Some("web"));
        assert!(holders(&["alice"]).admits(&alice));
        assert!(!holders(&["bob"]).admits(&alice));
        assert!(holders(&["group:ops"]).admits(&alice));
        assert!(!holders(&["group:dev"]).admits(&alice));
        assert!(holders(&["claim:tier=gold"]).admits(&alice));
        assert!(!holders(&["claim:tier=silver"]).admits(&alice));
        assert!(holders(&["claim:roles=b"]).admits(&alice));
        assert!(holders(&["claim:n=3"]).admits(&alice));
        assert!(!holders(&["claim:missing=x"]).admits(&alice));
        assert!(holders(&["cert:web"]).admits(&alice));
        assert!(!holders(&["cert:api"]).admits(&alice));
        assert!(holders(&["*"]).admits(&Identity::anonymous()));
        assert!(!holders(&[]).admits(&alice));
        // A principal named like a URI is a principal, not a malformed selector.
        let spiffe = identity("spiffe://acme/web", &[], json!({}), None);
        assert!(holders(&["spiffe://acme/web"]).admits(&spiffe));
    }

    #[test]
    fn bad_selectors_name_the_entry() {
        for (bad, says) in
            [("group:", "names no group"), ("claim:tier", "claim:<name>=<value>"), ("", "empty")]
        {
            let err =
                Holders::compile("namespaces[orders].access.read", &["*".into(), bad.into()]).unwrap_err();
            let text = err.to_string();
            assert!(text.contains("access.read[1]") && text.contains(says), "{text}");
        }
    }
}
