//! Where `nexus join` takes its token from: a file (`--token-file PATH`),
//! stdin (`--token-file -`) or `NEXUS_JOIN_TOKEN` — never the command
//! line, where `ps` shows it to every user of the machine.

use std::io::Read;
use std::path::Path;

use nexus_errors::{ErrorCode, UserError};

/// The environment variable that may hold the token.
pub const TOKEN_ENV: &str = "NEXUS_JOIN_TOKEN";

/// The most bytes read from a token file or stdin (a token is ~150 bytes).
const MAX_TOKEN_BYTES: u64 = 4096;

/// Where the token comes from, as the command line and environment say.
pub struct TokenSource<'a> {
    /// A token given as a positional argument (always refused).
    pub positional: Option<&'a str>,
    /// `--token-file`: a path, or `-` for stdin.
    pub file: Option<&'a Path>,
    /// The value of [`TOKEN_ENV`], if set.
    pub env: Option<String>,
}

impl TokenSource<'_> {
    /// The token, trimmed: from `--token-file` if given, else from the
    /// environment. `stdin` is read for `--token-file -`.
    pub fn read(self, stdin: impl Read) -> Result<String, UserError> {
        if self.positional.is_some() {
            return Err(UserError::new(
                ErrorCode::JoinTokenOnCommandLine,
                "the join token was given as a command-line argument; it was not used",
            ));
        }
        let token = match (self.file, self.env) {
            (Some(path), _) if path == Path::new("-") => read_bounded(stdin, "stdin")?,
            (Some(path), _) => {
                let file = std::fs::File::open(path).map_err(|e| {
                    missing(format!(
                        "cannot read the token file {}: {e}",
                        path.display()
                    ))
                })?;
                read_bounded(file, &path.display().to_string())?
            }
            (None, Some(value)) => value,
            (None, None) => {
                return Err(missing(format!(
                    "no join token: neither --token-file nor {TOKEN_ENV} is set"
                )))
            }
        };
        let token = token.trim();
        if token.is_empty() {
            return Err(missing("the join token is empty".to_owned()));
        }
        Ok(token.to_owned())
    }
}

/// Reads at most [`MAX_TOKEN_BYTES`] of UTF-8 from `from`.
fn read_bounded(from: impl Read, what: &str) -> Result<String, UserError> {
    let mut text = String::new();
    from.take(MAX_TOKEN_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| missing(format!("cannot read the join token from {what}: {e}")))?;
    if text.len() as u64 > MAX_TOKEN_BYTES {
        return Err(missing(format!(
            "{what} holds more than {MAX_TOKEN_BYTES} bytes: not a join token"
        )));
    }
    Ok(text)
}

fn missing(message: String) -> UserError {
    UserError::new(ErrorCode::JoinTokenMissing, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source<'a>(
        positional: Option<&'a str>,
        file: Option<&'a Path>,
        env: Option<&str>,
    ) -> TokenSource<'a> {
        TokenSource {
            positional,
            file,
            env: env.map(str::to_owned),
        }
    }

    #[test]
    fn a_token_comes_from_a_file_stdin_or_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "NXJ1.a.b.c\n").unwrap();
        let from_file = source(None, Some(&file), Some("env")).read(&b""[..]);
        assert_eq!(from_file.unwrap(), "NXJ1.a.b.c");
        let from_stdin = source(None, Some(Path::new("-")), None).read(&b" NXJ1.s \n"[..]);
        assert_eq!(from_stdin.unwrap(), "NXJ1.s");
        let from_env = source(None, None, Some("NXJ1.e")).read(&b""[..]);
        assert_eq!(from_env.unwrap(), "NXJ1.e");
    }

    #[test]
    fn a_positional_missing_empty_or_huge_token_is_refused_with_its_code() {
        let err = source(Some("NXJ1.a.b.c"), None, Some("NXJ1.e"))
            .read(&b""[..])
            .unwrap_err();
        assert!(err.is(ErrorCode::JoinTokenOnCommandLine), "{err:?}");
        assert!(!err.message.contains("NXJ1"), "{err:?}");
        let hint = &err.hint;
        for way in ["--token-file PATH", "--token-file -", TOKEN_ENV] {
            assert!(hint.contains(way), "hint names {way}: {hint}");
        }

        let none = source(None, None, None).read(&b""[..]).unwrap_err();
        assert!(none.is(ErrorCode::JoinTokenMissing), "{none:?}");
        let empty = source(None, Some(Path::new("-")), None).read(&b"\n"[..]);
        assert!(empty.unwrap_err().is(ErrorCode::JoinTokenMissing));
        let huge = vec![b'x'; 10_000];
        let huge = source(None, Some(Path::new("-")), None).read(&huge[..]);
        assert!(huge.unwrap_err().is(ErrorCode::JoinTokenMissing));
        let absent = Path::new("/nonexistent/nexus-token");
        let absent = source(None, Some(absent), None).read(&b""[..]);
        assert!(absent.unwrap_err().is(ErrorCode::JoinTokenMissing));
    }
}
