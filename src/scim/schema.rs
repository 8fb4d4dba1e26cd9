//! The attribute definitions of the resources offboard serves (RFC 7643 §4, §8.7).
//! One source of truth for validation, case-insensitive name lookup, filters, PATCH
//! paths and the `/Schemas` discovery document.

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttrType {
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

impl Mutability {
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
}

impl Returned {
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
        }
    }
}

#[derive(Debug)]
pub struct Attr {
    pub name: &'static str,
    pub ty: AttrType,
    pub multi: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    /// `server` uniqueness (RFC 7643 §2.4); everything else is `none`.
    pub unique: bool,
    pub canonical: &'static [&'static str],
    pub description: &'static str,
    pub sub: &'static [Attr],
    /// The most values a multi-valued attribute may hold (a bound on the work one request
    /// can ask for; far above what IdPs send). Over it: 400 `invalidValue`.
    pub max_values: usize,
}

/// Values of one multi-valued User attribute (emails, roles, entitlements…).
pub const MAX_VALUES: usize = 1000;
/// Members named in one Group request (a whole list on POST/PUT, or per PATCH).
pub const MAX_MEMBERS: usize = 10_000;

const fn attr(name: &'static str, ty: AttrType, description: &'static str) -> Attr {
    Attr {
        name,
        ty,
        multi: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        unique: false,
        canonical: &[],
        description,
        sub: &[],
        max_values: MAX_VALUES,
    }
}

const fn s(name: &'static str, description: &'static str) -> Attr {
    attr(name, AttrType::String, description)
}

const fn complex(name: &'static str, description: &'static str, sub: &'static [Attr]) -> Attr {
    Attr {
        sub,
        ..attr(name, AttrType::Complex, description)
    }
}

const fn multi(name: &'static str, description: &'static str, sub: &'static [Attr]) -> Attr {
    Attr {
        multi: true,
        sub,
        ..attr(name, AttrType::Complex, description)
    }
}

const TYPES_EMAIL: &[&str] = &["work", "home", "other"];
const TYPES_PHONE: &[&str] = &["work", "home", "mobile", "fax", "pager", "other"];

/// Sub-attributes shared by the plain multi-valued attributes (emails, roles, ...).
const fn multi_sub(value_ty: AttrType, canonical: &'static [&'static str]) -> [Attr; 4] {
    [
        attr("value", value_ty, "The attribute's significant value."),
        s(
            "display",
            "A human-readable name, primarily used for display purposes.",
        ),
        Attr {
            canonical,
            ..s("type", "A label indicating the attribute's function.")
        },
        attr(
            "primary",
            AttrType::Boolean,
            "Indicates the primary or preferred value.",
        ),
    ]
}

const EMAIL_SUB: [Attr; 4] = multi_sub(AttrType::String, TYPES_EMAIL);
const PHONE_SUB: [Attr; 4] = multi_sub(AttrType::String, TYPES_PHONE);
const PLAIN_SUB: [Attr; 4] = multi_sub(AttrType::String, &[]);
const REF_SUB: [Attr; 4] = multi_sub(AttrType::Reference, &[]);
const BINARY_SUB: [Attr; 4] = multi_sub(AttrType::Binary, &[]);

const NAME_SUB: &[Attr] = &[
    s("formatted", "The full name, formatted for display."),
    s("familyName", "The family name of the User."),
    s("givenName", "The given name of the User."),
    s("middleName", "The middle name(s) of the User."),
    s("honorificPrefix", "The honorific prefix(es) of the User."),
    s("honorificSuffix", "The honorific suffix(es) of the User."),
];

const ADDRESS_SUB: &[Attr] = &[
    s("formatted", "The full mailing address."),
    s("streetAddress", "The full street address component."),
    s("locality", "The city or locality component."),
    s("region", "The state or region component."),
    s("postalCode", "The zip code or postal code component."),
    s("country", "The country name component."),
    Attr {
        canonical: &["work", "home", "other"],
        ..s("type", "A label indicating the attribute's function.")
    },
    attr(
        "primary",
        AttrType::Boolean,
        "Indicates the primary or preferred address.",
    ),
];

const GROUP_REF_SUB: &[Attr] = &[
    Attr {
        mutability: Mutability::ReadOnly,
        ..s("value", "The identifier of the User's group.")
    },
    Attr {
        mutability: Mutability::ReadOnly,
        ..attr("$ref", AttrType::Reference, "The URI of the group.")
    },
    Attr {
        mutability: Mutability::ReadOnly,
        ..s("display", "A human-readable name of the group.")
    },
    Attr {
        mutability: Mutability::ReadOnly,
        canonical: &["direct", "indirect"],
        ..s("type", "How the membership was derived.")
    },
];

const META_SUB: &[Attr] = &[
    Attr {
        case_exact: true,
        mutability: Mutability::ReadOnly,
        ..s("resourceType", "The name of the resource type.")
    },
    Attr {
        mutability: Mutability::ReadOnly,
        ..attr(
            "created",
            AttrType::DateTime,
            "When the resource was added.",
        )
    },
    Attr {
        mutability: Mutability::ReadOnly,
        ..attr(
            "lastModified",
            AttrType::DateTime,
            "When the resource was last changed.",
        )
    },
    Attr {
        case_exact: true,
        mutability: Mutability::ReadOnly,
        ..attr("location", AttrType::Reference, "The URI of the resource.")
    },
    Attr {
        case_exact: true,
        mutability: Mutability::ReadOnly,
        ..s("version", "The version (ETag) of the resource.")
    },
];

/// Attributes common to every resource (RFC 7643 §3.1).
pub const COMMON: &[Attr] = &[
    Attr {
        case_exact: true,
        mutability: Mutability::ReadOnly,
        returned: Returned::Always,
        unique: true,
        ..s(
            "id",
            "Unique identifier of the resource, assigned by offboard.",
        )
    },
    Attr {
        case_exact: true,
        ..s(
            "externalId",
            "Identifier of the resource as defined by the client.",
        )
    },
    Attr {
        mutability: Mutability::ReadOnly,
        ..complex("meta", "Resource metadata.", META_SUB)
    },
];

pub const USER_ATTRS: &[Attr] = &[
    Attr {
        required: true,
        unique: true,
        ..s(
            "userName",
            "Unique identifier for the User within the organization; case-insensitive.",
        )
    },
    complex("name", "The components of the user's real name.", NAME_SUB),
    s("displayName", "The name of the User, suitable for display."),
    s("nickName", "The casual way to address the user."),
    attr(
        "profileUrl",
        AttrType::Reference,
        "A URI to the User's profile.",
    ),
    s("title", "The user's title."),
    s(
        "userType",
        "The relationship between the organization and the user.",
    ),
    s(
        "preferredLanguage",
        "The User's preferred written or spoken language.",
    ),
    s("locale", "The User's default location."),
    s("timezone", "The User's time zone, in IANA format."),
    attr(
        "active",
        AttrType::Boolean,
        "Whether the user's membership in this organization is active.",
    ),
    Attr {
        mutability: Mutability::WriteOnly,
        returned: Returned::Never,
        ..s(
            "password",
            "Accepted and discarded: offboard never stores passwords.",
        )
    },
    multi("emails", "Email addresses for the user.", &EMAIL_SUB),
    multi("phoneNumbers", "Phone numbers for the User.", &PHONE_SUB),
    multi(
        "ims",
        "Instant messaging addresses for the User.",
        &PLAIN_SUB,
    ),
    multi("photos", "URLs of photos of the User.", &REF_SUB),
    multi(
        "addresses",
        "A physical mailing address for this User.",
        ADDRESS_SUB,
    ),
    Attr {
        mutability: Mutability::ReadOnly,
        ..multi(
            "groups",
            "The groups of this organization the user belongs to.",
            GROUP_REF_SUB,
        )
    },
    multi(
        "entitlements",
        "A list of entitlements for the User.",
        &PLAIN_SUB,
    ),
    multi("roles", "A list of roles for the User.", &PLAIN_SUB),
    multi(
        "x509Certificates",
        "A list of certificates issued to the User.",
        &BINARY_SUB,
    ),
];

const MANAGER_SUB: &[Attr] = &[
    s(
        "value",
        "The id of the SCIM resource representing the manager.",
    ),
    attr("$ref", AttrType::Reference, "The URI of the manager."),
    Attr {
        mutability: Mutability::ReadOnly,
        ..s("displayName", "The displayName of the manager.")
    },
];

pub const ENTERPRISE_ATTRS: &[Attr] = &[
    s(
        "employeeNumber",
        "Numeric or alphanumeric identifier assigned to a person.",
    ),
    s("costCenter", "Identifies the name of a cost center."),
    s("organization", "Identifies the name of an organization."),
    s("division", "Identifies the name of a division."),
    s("department", "Identifies the name of a department."),
    complex("manager", "The User's manager.", MANAGER_SUB),
];

/// A resource's schema: its core attributes and the extensions it may carry.
#[derive(Debug)]
pub struct ResourceSchema {
    pub core_urn: &'static str,
    pub core: &'static [Attr],
    pub extensions: &'static [(&'static str, &'static [Attr])],
}

pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

const MEMBER_SUB: &[Attr] = &[
    Attr {
        case_exact: true,
        mutability: Mutability::Immutable,
        ..s("value", "The id of a User of the same organization.")
    },
    Attr {
        mutability: Mutability::Immutable,
        ..attr("$ref", AttrType::Reference, "The URI of the member.")
    },
    Attr {
        mutability: Mutability::ReadOnly,
        ..s("display", "The member's userName.")
    },
    Attr {
        mutability: Mutability::Immutable,
        canonical: &["User"],
        ..s("type", "The type of the member: User.")
    },
];

pub const GROUP_ATTRS: &[Attr] = &[
    Attr {
        required: true,
        ..s("displayName", "A human-readable name for the Group.")
    },
    Attr {
        max_values: MAX_MEMBERS,
        ..multi("members", "The Users in the Group.", MEMBER_SUB)
    },
];

pub static GROUP: ResourceSchema = ResourceSchema {
    core_urn: GROUP_SCHEMA,
    core: GROUP_ATTRS,
    extensions: &[],
};

pub static USER: ResourceSchema = ResourceSchema {
    core_urn: USER_SCHEMA,
    core: USER_ATTRS,
    extensions: &[(ENTERPRISE_USER_SCHEMA, ENTERPRISE_ATTRS)],
};

pub fn find<'a>(attrs: &'a [Attr], name: &str) -> Option<&'a Attr> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

/// Where an attribute lives: in the core schema (top level) or under an extension URN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Core,
    Extension(&'static str),
}

impl ResourceSchema {
    /// A top-level attribute of the core schema or a common attribute.
    pub fn core_attr(&self, name: &str) -> Option<&'static Attr> {
        find(COMMON, name).or_else(|| find(self.core, name))
    }

    pub fn extension(&self, urn: &str) -> Option<(&'static str, &'static [Attr])> {
        self.extensions
            .iter()
            .find(|(u, _)| u.eq_ignore_ascii_case(urn))
            .copied()
    }

    /// Resolves an attribute name within a scope named by an optional URN prefix.
    pub fn resolve(&self, urn: Option<&str>, name: &str) -> Option<(Scope, &'static Attr)> {
        match urn {
            None => self.core_attr(name).map(|a| (Scope::Core, a)),
            Some(u) if u.eq_ignore_ascii_case(self.core_urn) => {
                self.core_attr(name).map(|a| (Scope::Core, a))
            }
            Some(u) => {
                let (urn, attrs) = self.extension(u)?;
                find(attrs, name).map(|a| (Scope::Extension(urn), a))
            }
        }
    }

    /// Splits `urn:…:User:department.sub` into the URN and the rest, if it has a URN.
    pub fn split_urn<'p>(&self, path: &'p str) -> (Option<&'p str>, &'p str) {
        if !path.to_ascii_lowercase().starts_with("urn:") {
            return (None, path);
        }
        for urn in std::iter::once(self.core_urn).chain(self.extensions.iter().map(|(u, _)| *u)) {
            if path.len() > urn.len()
                && path[..urn.len()].eq_ignore_ascii_case(urn)
                && path.as_bytes()[urn.len()] == b':'
            {
                return (Some(&path[..urn.len()]), &path[urn.len() + 1..]);
            }
        }
        match path.rfind(':') {
            Some(i) => (Some(&path[..i]), &path[i + 1..]),
            None => (None, path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urns_split_at_the_schema_boundary() {
        let (urn, rest) = USER
            .split_urn("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value");
        assert_eq!(urn, Some(ENTERPRISE_USER_SCHEMA));
        assert_eq!(rest, "manager.value");
        assert_eq!(USER.split_urn("name.givenName"), (None, "name.givenName"));
    }

    #[test]
    fn attribute_names_resolve_case_insensitively() {
        let (scope, a) = USER.resolve(None, "USERNAME").expect("userName");
        assert_eq!((scope, a.name), (Scope::Core, "userName"));
        let (scope, a) = USER
            .resolve(
                Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"),
                "Department",
            )
            .expect("department");
        assert_eq!(
            (scope, a.name),
            (Scope::Extension(ENTERPRISE_USER_SCHEMA), "department")
        );
    }
}
