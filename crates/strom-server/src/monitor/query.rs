//! A monitoring request's query string, read as nats-server reads it: values are URL-decoded,
//! the first of a repeated key counts, an empty value means "not given", and a value that does
//! not parse is answered with 400 and Go's words for why.

/// The decoded `key=value` pairs of a query string.
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(query: Option<&str>) -> Query {
        Query(
            form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The value of `key`; empty when absent.
    pub fn get(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }

    /// A boolean as Go's `strconv.ParseBool` reads it; false when absent.
    pub fn boolean(&self, key: &str) -> Result<bool, String> {
        match self.get(key) {
            "" => Ok(false),
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
            "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
            v => Err(format!(
                "Error decoding boolean for '{key}': strconv.ParseBool: parsing {v:?}: invalid syntax"
            )),
        }
    }

    /// A signed integer as Go's `strconv.Atoi` reads it; 0 when absent.
    pub fn int(&self, key: &str) -> Result<i64, String> {
        match self.get(key) {
            "" => Ok(0),
            v => v.parse().map_err(|_| {
                format!(
                    "Error decoding int for '{key}': strconv.Atoi: parsing {v:?}: invalid syntax"
                )
            }),
        }
    }

    /// An unsigned integer as Go's `strconv.ParseUint` reads it; 0 when absent.
    pub fn uint(&self, key: &str) -> Result<u64, String> {
        match self.get(key) {
            "" => Ok(0),
            v if v.starts_with('+') => Err(uint_error(key, v)),
            v => v.parse().map_err(|_| uint_error(key, v)),
        }
    }
}

fn uint_error(key: &str, v: &str) -> String {
    format!("Error decoding uint64 for '{key}': strconv.ParseUint: parsing {v:?}: invalid syntax")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_decoded_and_the_first_counts() {
        let q = Query::parse(Some("acc=A%20B&subs=1&subs=0&filter_subject=foo.%3E"));
        assert_eq!(q.get("acc"), "A B");
        assert_eq!(q.boolean("subs"), Ok(true));
        assert_eq!(q.get("filter_subject"), "foo.>");
        assert_eq!(q.get("missing"), "");
    }

    #[test]
    fn bad_values_get_gos_words() {
        let q = Query::parse(Some("auth=yes&offset=x&cid=-1"));
        assert_eq!(
            q.boolean("auth"),
            Err(
                "Error decoding boolean for 'auth': strconv.ParseBool: parsing \"yes\": invalid syntax"
                    .into()
            )
        );
        assert_eq!(
            q.int("offset"),
            Err(
                "Error decoding int for 'offset': strconv.Atoi: parsing \"x\": invalid syntax"
                    .into()
            )
        );
        assert!(q.uint("cid").is_err());
    }
}
