//! VERP templates such as `bounces+{local}={domain}@bounce.example.com` or
//! `b-{id}@bounce.example.com`: matching an envelope sender against them. Pure.

/// What a template captured from an address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerpCapture {
    pub local: Option<String>,
    pub domain: Option<String>,
    pub id: Option<String>,
    pub token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Local,
    Domain,
    Id,
    Token,
}

/// A parsed template. Literals compare case-insensitively; each placeholder matches one or
/// more characters, the longest match first (so `{local}={domain}` splits at the last `=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerpTemplate {
    pieces: Vec<Piece>,
    source: String,
}

impl VerpTemplate {
    pub fn parse(template: &str) -> Result<VerpTemplate, String> {
        let mut pieces = Vec::new();
        let mut rest = template;
        while !rest.is_empty() {
            match rest.find('{') {
                Some(0) => {
                    let end = rest.find('}').ok_or_else(|| {
                        format!("VERP template {template:?} has an unclosed '{{'")
                    })?;
                    let piece = match &rest[1..end] {
                        "local" => Piece::Local,
                        "domain" => Piece::Domain,
                        "id" => Piece::Id,
                        "token" => Piece::Token,
                        other => {
                            return Err(format!(
                                "VERP template {template:?} has an unknown placeholder {{{other}}}: use {{local}}, {{domain}}, {{id}} or {{token}}"
                            ));
                        }
                    };
                    if matches!(pieces.last(), Some(p) if !matches!(p, Piece::Literal(_))) {
                        return Err(format!(
                            "VERP template {template:?} has two placeholders with nothing between them"
                        ));
                    }
                    pieces.push(piece);
                    rest = &rest[end + 1..];
                }
                Some(n) => {
                    pieces.push(Piece::Literal(rest[..n].to_ascii_lowercase()));
                    rest = &rest[n..];
                }
                None => {
                    pieces.push(Piece::Literal(rest.to_ascii_lowercase()));
                    rest = "";
                }
            }
        }
        let has = |p: Piece| pieces.contains(&p);
        if has(Piece::Local) != has(Piece::Domain) {
            return Err(format!(
                "VERP template {template:?} needs both {{local}} and {{domain}}, or neither"
            ));
        }
        if !(has(Piece::Local) || has(Piece::Id) || has(Piece::Token)) {
            return Err(format!(
                "VERP template {template:?} has no placeholder: use {{local}}={{domain}}, {{id}} or {{token}}"
            ));
        }
        Ok(VerpTemplate {
            pieces,
            source: template.to_string(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The template with each placeholder written as `mark`: what a matching address shows
    /// once what it encodes is removed.
    pub fn masked(&self, mark: &str) -> String {
        self.pieces
            .iter()
            .map(|piece| match piece {
                Piece::Literal(literal) => literal.as_str(),
                _ => mark,
            })
            .collect()
    }

    /// The address this template gives for `local@domain`; `None` for a template with an
    /// `{id}` or a `{token}`, or without `{local}`.
    pub fn encode(&self, local: &str, domain: &str) -> Option<String> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(literal) => out.push_str(literal),
                Piece::Local => out.push_str(local),
                Piece::Domain => out.push_str(domain),
                Piece::Id | Piece::Token => return None,
            }
        }
        self.pieces.contains(&Piece::Local).then_some(out)
    }

    /// Matches a bare envelope address (angle brackets are removed first).
    pub fn capture(&self, address: &str) -> Option<VerpCapture> {
        let address = address.trim().trim_start_matches('<').trim_end_matches('>');
        if address.len() > 1024 {
            return None;
        }
        let mut capture = VerpCapture::default();
        if match_pieces(&self.pieces, address, &mut capture) {
            Some(capture)
        } else {
            None
        }
    }
}

fn match_pieces(pieces: &[Piece], text: &str, capture: &mut VerpCapture) -> bool {
    let Some((first, rest)) = pieces.split_first() else {
        return text.is_empty();
    };
    match first {
        Piece::Literal(literal) => {
            text.len() >= literal.len()
                && text.is_char_boundary(literal.len())
                && text[..literal.len()].eq_ignore_ascii_case(literal)
                && match_pieces(rest, &text[literal.len()..], capture)
        }
        placeholder => {
            // Longest first; placeholders never contain '@' or whitespace.
            let limit = text
                .find(|c: char| c == '@' || c.is_whitespace())
                .unwrap_or(text.len());
            let ends: Vec<usize> = text[..limit]
                .char_indices()
                .map(|(i, c)| i + c.len_utf8())
                .collect();
            for &end in ends.iter().rev() {
                let value = &text[..end];
                if match_pieces(rest, &text[end..], capture) {
                    let slot = match placeholder {
                        Piece::Local => &mut capture.local,
                        Piece::Domain => &mut capture.domain,
                        Piece::Id => &mut capture.id,
                        Piece::Token => &mut capture.token,
                        Piece::Literal(_) => unreachable!("literals are matched above"),
                    };
                    *slot = Some(value.to_string());
                    return true;
                }
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_local_and_domain_at_the_last_equals_sign() {
        let template = VerpTemplate::parse("bounces+{local}={domain}@bounce.example.com").unwrap();
        let capture = template
            .capture("<bounces+jane=doe=example.org@Bounce.Example.com>")
            .unwrap();
        assert_eq!(capture.local.as_deref(), Some("jane=doe"));
        assert_eq!(capture.domain.as_deref(), Some("example.org"));
        assert_eq!(template.capture("bounces@bounce.example.com"), None);
        assert_eq!(template.capture("bounces+a=b@other.example.com"), None);
    }

    #[test]
    fn captures_ids_and_tokens() {
        let template = VerpTemplate::parse("b-{id}@bounce.example.com").unwrap();
        assert_eq!(
            template
                .capture("b-7f3a9c@bounce.example.com")
                .unwrap()
                .id
                .as_deref(),
            Some("7f3a9c")
        );
        let template = VerpTemplate::parse("t-{token}@bounce.example.com").unwrap();
        assert_eq!(
            template
                .capture("t-YQ.c2ln@bounce.example.com")
                .unwrap()
                .token
                .as_deref(),
            Some("YQ.c2ln")
        );
    }

    #[test]
    fn masks_and_encodes() {
        let template = VerpTemplate::parse("Bounces+{local}={domain}@bounce.example.com").unwrap();
        assert_eq!(template.masked("[x]"), "bounces+[x]=[x]@bounce.example.com");
        assert_eq!(
            template.encode("jane", "example.org").as_deref(),
            Some("bounces+jane=example.org@bounce.example.com")
        );
        let template = VerpTemplate::parse("b-{id}@bounce.example.com").unwrap();
        assert_eq!(template.encode("jane", "example.org"), None);
    }

    #[test]
    fn rejects_bad_templates() {
        assert!(VerpTemplate::parse("bounces@example.com").is_err());
        assert!(VerpTemplate::parse("b-{nope}@example.com").is_err());
        assert!(VerpTemplate::parse("b-{local}@example.com").is_err());
        assert!(VerpTemplate::parse("b-{id}{token}@example.com").is_err());
    }
}
