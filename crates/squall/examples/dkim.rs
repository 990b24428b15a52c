//! Sign every message with DKIM (feature `dkim`), and print the DNS record to publish.
//!
//!     openssl genpkey -algorithm ed25519 -out dkim.key
//!     squall sink &
//!     DKIM_KEY=dkim.key cargo run -p squall --features dkim --example dkim

use squall::{Client, DkimKey, DkimSigner, Message};

#[tokio::main]
async fn main() -> Result<(), squall::Error> {
    let url = std::env::var("SQUALL_URL").unwrap_or_else(|_| "smtp://localhost:2525".into());
    let key_file = std::env::var("DKIM_KEY")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/dkim/ed25519.pem").into());
    let key = DkimKey::from_pem_file(&key_file)?;
    println!(
        "publish as TXT at 2026._domainkey.example.org:\n  {}",
        key.dns_record()
    );
    let signer = DkimSigner::new(key, "example.org", "2026")?;
    let client = Client::builder_from_url(&url)?.dkim(signer).build()?;
    let message = Message::builder()
        .from("ann@example.org")
        .to("bob@example.net")
        .subject("Signed")
        .text("This message carries a DKIM-Signature.")
        .build()?;
    let receipt = client.send_message(&message).await?;
    println!("signed and sent, queued as {:?}", receipt.queue_id);
    client.shutdown().await;
    Ok(())
}
