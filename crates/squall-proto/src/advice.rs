//! What a server's refusal means, in words a user can act on.
//!
//! The enhanced status code (RFC 3463) says the most; the basic code and the stage fill in when a
//! server sends none. Pure text: drivers and tools show it next to the server's own reply.

use crate::reply::Reply;
use crate::session::Stage;

/// Advice for a refusal at `stage`, from its enhanced status code or, failing that, its code.
pub fn for_reply(stage: Stage, reply: &Reply) -> &'static str {
    let code = reply.code().value();
    if code == 421 {
        return "the server is closing the connection (busy, or shutting down)";
    }
    if let Some(e) = reply.enhanced()
        && let Some(advice) = for_enhanced(code, e.subject(), e.detail())
    {
        return advice;
    }
    match (stage, code) {
        (_, 530) => "the server requires authentication; configure a user and password",
        (_, 535) => "the user name or password is wrong; check them (some providers need an app password)",
        (_, 552) => "the message is too large for the server, or the mailbox is full",
        (Stage::Greeting, 554) => "the server does not accept mail from this client",
        (Stage::Rcpt, 550 | 551 | 553) => "the address does not exist or is not accepted there; check it",
        (Stage::Rcpt, 452) => "too many recipients in one message; send the rest in another message",
        (_, 500..=504) => "the server did not understand the command",
        (_, 400..=499) => "a temporary problem at the server",
        _ => "the server refused it",
    }
}

/// RFC 3463 subject and detail codes, and the IANA registry's additions.
fn for_enhanced(code: u16, subject: u16, detail: u16) -> Option<&'static str> {
    Some(match (subject, detail) {
        (1, 1) => "the address does not exist there; check the spelling",
        (1, 2) => "the recipient's domain does not accept mail; check the domain",
        (1, 3) => "the address is malformed",
        (1, 7) | (1, 8) => "the sender address is not accepted; use an address at a domain the server knows",
        (1, 10) => "the recipient address does not accept mail (null MX)",
        (2, 1) => "the mailbox is disabled",
        (2, 2) => "the recipient's mailbox is full",
        (2, 3) | (3, 4) => "the message is too large for the server; send a smaller one",
        (3, _) => "a problem in the server's mail system",
        (4, _) => "a network or routing problem at the server",
        (5, 3) => "too many recipients in one message; send the rest in another message",
        (5, _) => "the server did not understand the command",
        (6, 7) => "the address needs SMTPUTF8, which the path does not support",
        (6, _) => "the server does not accept this content",
        (7, 0) if code == 530 => "the server requires authentication; configure a user and password",
        (7, 8) => "the user name or password is wrong; check them (some providers need an app password)",
        (7, 9) => "the authentication mechanism is too weak for the server",
        (7, 11) => "the server requires encryption for this; use TLS",
        (7, 1) => {
            "refused by the server's policy (relaying denied, sender not allowed, or spam filtering); check that this server may send for you, usually by logging in"
        }
        (7, _) => "refused for security or policy reasons",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::ReplyCode;

    fn reply(code: u16, text: &str) -> Reply {
        Reply::new(ReplyCode::new(code).unwrap(), vec![text.to_string()])
    }

    #[test]
    fn enhanced_codes_say_the_most() {
        assert!(for_reply(Stage::Rcpt, &reply(550, "5.1.1 user unknown")).contains("does not exist"));
        assert!(for_reply(Stage::Auth, &reply(535, "5.7.8 no")).contains("password is wrong"));
        assert!(for_reply(Stage::Mail, &reply(530, "5.7.0 auth first")).contains("requires authentication"));
    }

    #[test]
    fn the_basic_code_and_stage_fill_in() {
        assert!(for_reply(Stage::Rcpt, &reply(550, "no such user")).contains("does not exist"));
        assert!(for_reply(Stage::Greeting, &reply(554, "go away")).contains("does not accept mail from"));
        assert_eq!(
            for_reply(Stage::Data, &reply(451, "later")),
            "a temporary problem at the server"
        );
        assert!(for_reply(Stage::Mail, &reply(421, "4.3.2 bye")).contains("closing"));
    }
}
