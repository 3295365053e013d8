using System;
using System.Collections.Generic;

namespace PmpMail.Interop;

/// <summary>Message importance (Send-MailMessage's -Priority).</summary>
public enum PmpMailImportance
{
    /// <summary>Normal.</summary>
    Normal,
    /// <summary>High.</summary>
    High,
    /// <summary>Low.</summary>
    Low,
}

/// <summary>An attachment: a file the native library reads, or bytes held in memory.</summary>
public sealed class PmpMailAttachment
{
    private PmpMailAttachment()
    {
    }

    /// <summary>Path of a file to attach (read by the native library at send time).</summary>
    public string? Path { get; private init; }

    /// <summary>File name shown to the recipient; defaults to the file's name.</summary>
    public string? Name { get; private init; }

    /// <summary>
    /// In-memory content. Sent as a buffer the native library reads in place (pinned for the send, copied once in
    /// native memory, never base64-encoded in managed memory): it must not change while a send runs.
    /// </summary>
    public ReadOnlyMemory<byte>? Content { get; private init; }

    /// <summary>MIME type; guessed from the name when null.</summary>
    public string? ContentType { get; private init; }

    /// <summary>Content id: set for inline images referenced as <c>cid:</c> in an HTML body.</summary>
    public string? ContentId { get; private init; }

    /// <summary>A file attachment.</summary>
    public static PmpMailAttachment FromFile(string path, string? contentId = null, string? name = null) => new()
    {
        Path = string.IsNullOrWhiteSpace(path) ? throw new ArgumentException("The attachment path is required.", nameof(path)) : path,
        ContentId = contentId,
        Name = name,
    };

    /// <summary>
    /// An in-memory attachment: a byte array, a slice of one (<c>new ReadOnlyMemory&lt;byte&gt;(array, offset, length)</c>),
    /// or any other <see cref="ReadOnlyMemory{T}"/>. It costs no managed copy: the send pins it and passes it to the native
    /// library as a buffer.
    /// </summary>
    public static PmpMailAttachment FromBytes(string name, ReadOnlyMemory<byte> content, string? contentType = null, string? contentId = null) => new()
    {
        Name = string.IsNullOrWhiteSpace(name) ? throw new ArgumentException("The attachment name is required.", nameof(name)) : name,
        Content = content,
        ContentType = contentType,
        ContentId = contentId,
    };
}

/// <summary>A mail to send (contracts §4). Addresses are "addr" or "Display Name &lt;addr&gt;".</summary>
public sealed class PmpMailMessage
{
    /// <summary>The mailbox to send as (the user in /users/{id}/sendMail).</summary>
    public string From { get; set; } = string.Empty;
    /// <summary>Recipients.</summary>
    public IList<string> To { get; } = new List<string>();
    /// <summary>Carbon copies.</summary>
    public IList<string> Cc { get; } = new List<string>();
    /// <summary>Blind carbon copies.</summary>
    public IList<string> Bcc { get; } = new List<string>();
    /// <summary>Reply-to addresses.</summary>
    public IList<string> ReplyTo { get; } = new List<string>();
    /// <summary>Subject.</summary>
    public string? Subject { get; set; }
    /// <summary>Body, text or HTML.</summary>
    public string? Body { get; set; }
    /// <summary>The body is HTML.</summary>
    public bool BodyAsHtml { get; set; }
    /// <summary>Importance; null leaves Graph's default (normal).</summary>
    public PmpMailImportance? Importance { get; set; }
    /// <summary>Keep a copy in Sent Items (default true).</summary>
    public bool SaveToSentItems { get; set; } = true;
    /// <summary>Custom internet headers; names must start with x- (at most 5).</summary>
    public IList<KeyValuePair<string, string>> Headers { get; } = new List<KeyValuePair<string, string>>();
    /// <summary>Attachments, regular and inline.</summary>
    public IList<PmpMailAttachment> Attachments { get; } = new List<PmpMailAttachment>();
}
