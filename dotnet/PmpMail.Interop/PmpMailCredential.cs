using System;
using System.Runtime.InteropServices;
using System.Security;
using System.Text.Json;
using PmpMail.Interop.Native;

namespace PmpMail.Interop;

/// <summary>
/// A credential the native library uses directly (client secret, PFX or PEM file). Secrets are kept as
/// <see cref="SecureString"/> and turned into UTF-8 only inside the native call, in a buffer that is zeroed.
/// Certificates held by .NET (store, non-exportable keys) go through <see cref="PmpMailClient.CreateWithCertificate"/>
/// or <see cref="PmpMailClient.CreateWithCertificateThumbprint"/> instead.
/// </summary>
public abstract class PmpMailCredential
{
    private protected PmpMailCredential()
    {
    }

    /// <summary>A client secret.</summary>
    public static PmpMailCredential FromClientSecret(SecureString secret) => new ClientSecretCredential(Copy(secret));

    /// <summary>A client secret given as a string (prefer the <see cref="SecureString"/> overload).</summary>
    public static PmpMailCredential FromClientSecret(string secret)
    {
        Guard.NotEmpty(secret, nameof(secret), "The client secret is empty.");
        var secure = new SecureString();
        foreach (char c in secret)
        {
            secure.AppendChar(c);
        }

        secure.MakeReadOnly();
        return new ClientSecretCredential(secure);
    }

    /// <summary>A PKCS#12 file read by the native library (key and certificate). Password may be null.</summary>
    public static PmpMailCredential FromPfxFile(string path, SecureString? password) =>
        new PfxFileCredential(string.IsNullOrWhiteSpace(path) ? throw new ArgumentException("The PFX path is required.", nameof(path)) : path, password is null ? null : Copy(password));

    /// <summary>PEM certificate and private key files read by the native library.</summary>
    public static PmpMailCredential FromPemFiles(string certificatePath, string privateKeyPath) =>
        new PemFileCredential(certificatePath, privateKeyPath);

    /// <summary>Short description for logs (never the secret).</summary>
    public abstract string Kind { get; }

    /// <summary>Writes the config document's "auth" object.</summary>
    internal abstract void WriteAuth(Utf8JsonWriter writer);

    /// <summary>Writes a SecureString as a JSON string value, never creating a managed string.</summary>
    private protected static void WriteSecure(Utf8JsonWriter writer, string propertyName, SecureString value)
    {
        IntPtr chars = Marshal.SecureStringToGlobalAllocUnicode(value);
        try
        {
            unsafe
            {
                writer.WriteString(propertyName, new ReadOnlySpan<char>((char*)chars, value.Length));
            }
        }
        finally
        {
            Marshal.ZeroFreeGlobalAllocUnicode(chars);
        }
    }

    private static SecureString Copy(SecureString value)
    {
        SecureString copy = Guard.NotNull(value, nameof(value)).Copy();
        copy.MakeReadOnly();
        return copy;
    }

    private sealed class ClientSecretCredential(SecureString secret) : PmpMailCredential
    {
        public override string Kind => "clientSecret";

        internal override void WriteAuth(Utf8JsonWriter writer)
        {
            writer.WriteStartObject("auth");
            writer.WriteString("type", "clientSecret");
            WriteSecure(writer, "secret", secret);
            writer.WriteEndObject();
        }
    }

    private sealed class PfxFileCredential(string path, SecureString? password) : PmpMailCredential
    {
        public override string Kind => "certificatePfx";

        internal override void WriteAuth(Utf8JsonWriter writer)
        {
            writer.WriteStartObject("auth");
            writer.WriteString("type", "certificatePfx");
            writer.WriteString("pfxPath", path);
            if (password is not null)
            {
                WriteSecure(writer, "password", password);
            }

            writer.WriteEndObject();
        }
    }

    private sealed class PemFileCredential(string certificatePath, string privateKeyPath) : PmpMailCredential
    {
        public override string Kind => "certificatePem";

        internal override void WriteAuth(Utf8JsonWriter writer)
        {
            writer.WriteStartObject("auth");
            writer.WriteString("type", "certificatePem");
            writer.WriteString("certificatePath", certificatePath);
            writer.WriteString("privateKeyPath", privateKeyPath);
            writer.WriteEndObject();
        }
    }
}
