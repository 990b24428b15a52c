//! Send one message, built with the Message builder, and print what the server said.
//!
//!     squall sink &                       # a capture server on localhost:2525
//!     cargo run -p squall --example send
//!
//! `SQUALL_URL` picks the server (`smtps://user:password@smtp.example.org` for a real one).

use squall::{Client, Message};

#[tokio::main]
async fn main() -> Result<(), squall::Error> {
    let url = std::env::var("SQUALL_URL").unwrap_or_else(|_| "smtp://localhost:2525".into());
    let client = Client::from_url(&url)?;
    let message = Message::builder()
        .from("Ann Example <ann@example.org>")
        .to("bob@example.net, Carol <carol@example.net>")
        .subject("Hello from squall")
        .text("Plain text for every mail reader.")
        .html("<p>And <b>HTML</b> for those that show it.</p>")
        .build()?;
    // Ok means the server took the message for at least one recipient; require_all makes a
    // refused recipient an error too.
    let receipt = client.send_message(&message).await?.require_all()?;
    println!(
        "queued as {:?}, {} recipients",
        receipt.queue_id,
        receipt.accepted.len()
    );
    client.shutdown().await;
    Ok(())
}
