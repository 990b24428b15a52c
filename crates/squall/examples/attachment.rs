//! A message with an attachment and an inline picture the HTML shows by its Content-ID.
//!
//!     squall sink --eml-dir ./mail &
//!     cargo run -p squall --example attachment

use squall::{Attachment, Client, Message};

/// A 1×1 transparent PNG.
const PIXEL: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00,
    0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01,
    0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

#[tokio::main]
async fn main() -> Result<(), squall::Error> {
    let url = std::env::var("SQUALL_URL").unwrap_or_else(|_| "smtp://localhost:2525".into());
    let client = Client::from_url(&url)?;
    let report = "month,orders\n2026-10,1234\n2026-11,1302\n";
    let message = Message::builder()
        .from("reports@example.org")
        .to("team@example.net")
        .subject("November report")
        .text("The report is attached.")
        .html(r#"<p><img src="cid:logo" alt="logo"> The report is attached.</p>"#)
        // The type is guessed from the name (text/csv); Attachment::read loads a file.
        .attach(Attachment::from_bytes("report.csv", report.as_bytes().to_vec())?)
        .inline("logo", Attachment::new("logo.png", "image/png", PIXEL.to_vec())?)
        .build()?;
    let receipt = client.send_message(&message).await?;
    println!("sent {} bytes, queued as {:?}", receipt.size, receipt.queue_id);
    client.shutdown().await;
    Ok(())
}
