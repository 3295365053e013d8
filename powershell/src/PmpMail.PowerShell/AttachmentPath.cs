using System;
using System.IO;

namespace PmpMail;

/// <summary>
/// An attachment path as Send-PmpMail's -Attachments takes it: from a string or a FileInfo. A dedicated type
/// instead of string[]: PowerShell would otherwise coerce every piped Import-Csv row (a PSCustomObject) to a
/// string and bind it to -Attachments by value. This type converts only from strings and files.
/// </summary>
public sealed class AttachmentPath
{
    /// <summary>A path (absolute, relative to the current location, or a provider path).</summary>
    public AttachmentPath(string path) => Path = string.IsNullOrWhiteSpace(path) ? throw new ArgumentException("The attachment path is empty.", nameof(path)) : path;

    /// <summary>A file object, e.g. from Get-ChildItem.</summary>
    public AttachmentPath(FileInfo file) => Path = (file ?? throw new ArgumentNullException(nameof(file))).FullName;

    /// <summary>The path as given.</summary>
    public string Path { get; }

    /// <inheritdoc />
    public override string ToString() => Path;
}
