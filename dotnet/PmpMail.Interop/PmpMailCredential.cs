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

    /// <summary>
    /// The Azure resource's managed identity (App Service / Functions / Automation, an Azure VM through IMDS, an
    /// Azure Arc-enabled server): no secret, the platform's local endpoint issues the token. Use it with
    /// <see cref="PmpMailConfig(PmpMailCredential)"/>: a managed identity has no app registration and needs no tenant.
    /// </summary>
    /// <param name="identity">System-assigned (null or <see cref="PmpManagedIdentityId.SystemAssigned"/>) or a user-assigned identity.</param>
    /// <param name="source">Where the token comes from; by default detected as the Azure SDKs do.</param>
    public static PmpMailCredential FromManagedIdentity(PmpManagedIdentityId? identity = null, PmpManagedIdentitySource source = PmpManagedIdentitySource.Auto) =>
        new ManagedIdentityCredential(identity ?? PmpManagedIdentityId.SystemAssigned, source);

    /// <summary>
    /// Workload identity federation (AKS workload identity, a CI system's OIDC token): the token in
    /// <paramref name="tokenFile"/> (default AZURE_FEDERATED_TOKEN_FILE) is the client assertion, re-read for every
    /// token request so a rotated file is picked up. With <see cref="PmpMailConfig(PmpMailCredential)"/> the tenant
    /// and client id come from AZURE_TENANT_ID and AZURE_CLIENT_ID.
    /// </summary>
    public static PmpMailCredential FromWorkloadIdentity(string? tokenFile = null) =>
        new WorkloadIdentityCredential(tokenFile is null ? null : Guard.NotEmpty(tokenFile, nameof(tokenFile), "The federated token file path is empty."));

    /// <summary>
    /// Google Workspace: a service account's JSON key file (as the Cloud console downloads it), read by the native
    /// library when the client is created. Use it with <see cref="PmpMailConfig.ForGoogleWorkspace"/>.
    /// </summary>
    public static PmpMailCredential FromServiceAccountKeyFile(string path) =>
        new ServiceAccountKeyFileCredential(Guard.NotEmpty(path, nameof(path), "The service account key path is empty."));

    /// <summary>
    /// Google Workspace: the text of a service account's JSON key (from a vault, say), kept as a <see cref="SecureString"/>
    /// and turned into UTF-8 only inside the native call, in a buffer that is zeroed. Use it with
    /// <see cref="PmpMailConfig.ForGoogleWorkspace"/>.
    /// </summary>
    public static PmpMailCredential FromServiceAccountKeyJson(SecureString keyJson)
    {
        SecureString copy = Copy(keyJson);
        if (copy.Length == 0)
        {
            copy.Dispose();
            throw new ArgumentException("The service account key is empty.", nameof(keyJson));
        }

        return new ServiceAccountKeyJsonCredential(copy);
    }

    /// <summary>The text of a service account's JSON key given as a string (prefer the <see cref="SecureString"/> overload).</summary>
    public static PmpMailCredential FromServiceAccountKeyJson(string keyJson)
    {
        Guard.NotEmpty(keyJson, nameof(keyJson), "The service account key is empty.");
        var secure = new SecureString();
        foreach (char c in keyJson)
        {
            secure.AppendChar(c);
        }

        secure.MakeReadOnly();
        return new ServiceAccountKeyJsonCredential(secure);
    }

    /// <summary>True for a Google service account key (<see cref="PmpMailConfig.ForGoogleWorkspace"/> only).</summary>
    internal virtual bool IsGoogleServiceAccount => false;

    /// <summary>The credential kind; never the secret or key.</summary>
    public override string ToString() => Kind;

    /// <summary>True for credentials that name their own identity, so the config may omit the tenant and client id.</summary>
    internal virtual bool NamesItsOwnIdentity => false;

    /// <summary>Managed identity: the endpoints default to IDENTITY_ENDPOINT, IDENTITY_HEADER, IMDS_ENDPOINT and AZURE_POD_IDENTITY_AUTHORITY_HOST.</summary>
    internal virtual bool IsManagedIdentity => false;

    /// <summary>Workload identity: the tenant, client id and token file default to AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE.</summary>
    internal virtual bool IsWorkloadIdentity => false;

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

    private sealed class ServiceAccountKeyFileCredential(string path) : PmpMailCredential
    {
        public override string Kind => "serviceAccountKey";

        internal override bool IsGoogleServiceAccount => true;

        internal override void WriteAuth(Utf8JsonWriter writer)
        {
            writer.WriteStartObject("auth");
            writer.WriteString("type", "serviceAccountKey");
            writer.WriteString("keyPath", path);
            writer.WriteEndObject();
        }
    }

    private sealed class ServiceAccountKeyJsonCredential(SecureString keyJson) : PmpMailCredential
    {
        public override string Kind => "serviceAccountKey";

        internal override bool IsGoogleServiceAccount => true;

        internal override void WriteAuth(Utf8JsonWriter writer)
        {
            writer.WriteStartObject("auth");
            writer.WriteString("type", "serviceAccountKey");
            WriteSecure(writer, "keyJson", keyJson);
            writer.WriteEndObject();
        }
    }

    private sealed class ManagedIdentityCredential(PmpManagedIdentityId identity, PmpManagedIdentitySource source) : PmpMailCredential
    {
        public override string Kind => "managedIdentity";

        internal override bool NamesItsOwnIdentity => true;

        internal override bool IsManagedIdentity => true;

        internal override void WriteAuth(Utf8JsonWriter writer)
        {
            writer.WriteStartObject("auth");
            writer.WriteString("type", "managedIdentity");
            if (identity.Field is not null)
            {
                writer.WriteString(identity.Field, identity.Value);
            }

            writer.WriteString("source", source switch
            {
                PmpManagedIdentitySource.AppService => "appService",
                PmpManagedIdentitySource.Imds => "imds",
                PmpManagedIdentitySource.Arc => "arc",
                _ => "auto",
            });
            writer.WriteEndObject();
        }
    }

    private sealed class WorkloadIdentityCredential(string? tokenFile) : PmpMailCredential
    {
        public override string Kind => "workloadIdentity";

        internal override bool NamesItsOwnIdentity => true;

        internal override bool IsWorkloadIdentity => true;

        internal override void WriteAuth(Utf8JsonWriter writer)
        {
            writer.WriteStartObject("auth");
            writer.WriteString("type", "workloadIdentity");
            // As .NET sees the environment (DocumentWriter.AzureVariable).
            if ((tokenFile ?? DocumentWriter.AzureVariable("AZURE_FEDERATED_TOKEN_FILE")) is string file)
            {
                writer.WriteString("tokenFile", file);
            }

            writer.WriteEndObject();
        }
    }
}
