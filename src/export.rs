//! Placeholder until the export module lands from its branch.
use serde::{Deserialize, Serialize};
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExportFormat {
    Plain,
    Csv,
    Jsonl,
    Listmonk,
    Mautic,
    Phplist,
    Mailman,
    MailmanJson,
    Ses,
    SesJsonl,
    Mailgun,
    Postmark,
    Postfix,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AddressHash {
    Sha256,
}
pub struct ExportOptions {
    pub hash: Option<AddressHash>,
}
impl ExportFormat {
    pub fn as_str(&self) -> &'static str {
        "x"
    }
}
pub struct StreamingExport<W> {
    out: W,
    n: u64,
}
impl<W: std::io::Write> StreamingExport<W> {
    pub fn new(_f: ExportFormat, _o: &ExportOptions, out: W) -> std::io::Result<Self> {
        Ok(Self { out, n: 0 })
    }
    pub fn write(&mut self, s: &crate::suppression::Suppression) -> std::io::Result<()> {
        self.n += 1;
        writeln!(self.out, "{}", s.address)
    }
    pub fn finish(self) -> std::io::Result<u64> {
        Ok(self.n)
    }
}
impl std::str::FromStr for ExportFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Err(s.into())
    }
}
impl std::str::FromStr for AddressHash {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Err(s.into())
    }
}
