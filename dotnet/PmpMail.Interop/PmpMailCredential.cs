using System;
using System.Runtime.InteropServices;
using System.Security;
using System.Security.Cryptography.X509Certificates;
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

    /// <summary>
    /// Google Workspace: a service account key whose private key stays where it is (the certificate store, a
    /// smart card or HSM, a non-exportable CNG key). Google lets an administrator upload the public key of an X.509
    /// certificate to a service account (IAM &amp; Admin &gt; Service accounts &gt; Keys &gt; Add key &gt; Upload
    /// existing key); the key then has an id like a generated one. The client signs each token request's assertion
    /// (RS256) with <paramref name="certificate"/>'s RSA private key in this process, without exporting it. Use it
    /// with <see cref="PmpMailConfig.ForGoogleWorkspace"/> and <see cref="PmpMailClient.Create"/>; the certificate must
    /// stay undisposed for the client's lifetime.
    /// </summary>
    /// <param name="serviceAccountEmail">The service account (its key file's <c>client_email</c>), the assertion's issuer.</param>
    /// <param name="certificate">The certificate whose public key was uploaded, with its RSA private key.</param>
    /// <param name="privateKeyId">The key's id as the Cloud console lists it (a key file's <c>private_key_id</c>), the assertion's <c>kid</c>.</param>
    /// <param name="clientId">Optional: the service account's numeric client id (Unique ID), which remedies for missing delegation name.</param>
    /// <exception cref="ArgumentException">An argument is empty or malformed, or the certificate has no private key or no RSA key.</exception>
    public static PmpMailCredential FromServiceAccountCertificate(string serviceAccountEmail, X509Certificate2 certificate, string privateKeyId, string? clientId = null)
    {
        Guard.NotNull(certificate, nameof(certificate));
        string email = ServiceAccountEmail(serviceAccountEmail);
        string keyId = KeyToken(privateKeyId, nameof(privateKeyId), "key id");
        string? numericId = clientId is null ? null : KeyToken(clientId, nameof(clientId), "client id");
        if (!certificate.HasPrivateKey)
        {
            throw new ArgumentException($"Certificate {certificate.Thumbprint} ({certificate.Subject}) has no private key; the client signs with it. Use the certificate from the store or PFX that holds its private key.", nameof(certificate));
        }

        if (PmpMailClient.NonRsaKeyAlgorithm(certificate) is string algorithm)
        {
            throw new ArgumentException($"Certificate {certificate.Thumbprint} ({certificate.Subject}) has a key of type {algorithm}; Google's token endpoint accepts RS256 assertions only, so the key must be RSA.", nameof(certificate));
        }

        return new ServiceAccountCertificateCredential(email, keyId, numericId, certificate, null);
    }

    /// <summary>
    /// <see cref="FromServiceAccountCertificate"/> with the certificate found by thumbprint when the client is created,
    /// in CurrentUser\My and then LocalMachine\My (<see cref="CertificateLocator"/>); the client owns the certificate it
    /// found and disposes it. <see cref="PmpMailClient.Create"/> throws <see cref="PmpMailCertificateNotFoundException"/>
    /// when neither store holds it with a private key.
    /// </summary>
    /// <param name="serviceAccountEmail">The service account (its key file's <c>client_email</c>).</param>
    /// <param name="thumbprint">The SHA-1 thumbprint; case, spaces and colons do not matter.</param>
    /// <param name="privateKeyId">The key's id as the Cloud console lists it, the assertion's <c>kid</c>.</param>
    /// <param name="clientId">Optional: the service account's numeric client id, which remedies name.</param>
    /// <exception cref="ArgumentException">An argument is empty or malformed (a thumbprint without a hexadecimal digit).</exception>
    public static PmpMailCredential FromServiceAccountCertificateThumbprint(string serviceAccountEmail, string thumbprint, string privateKeyId, string? clientId = null)
    {
        string email = ServiceAccountEmail(serviceAccountEmail);
        string keyId = KeyToken(privateKeyId, nameof(privateKeyId), "key id");
        string? numericId = clientId is null ? null : KeyToken(clientId, nameof(clientId), "client id");
        return new ServiceAccountCertificateCredential(email, keyId, numericId, null, CertificateLocator.NormalizeThumbprint(thumbprint));
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

    private static string ServiceAccountEmail(string? value)
    {
        string email = Guard.NotEmpty(value, "serviceAccountEmail", "The service account email is empty.").Trim();
        int at = email.IndexOf('@');
        if (at <= 0 || at != email.LastIndexOf('@') || at == email.Length - 1 || HasSpaceOrControl(email))
        {
            throw new ArgumentException($"The service account email '{email}' is not an email address (the key file's client_email, e.g. sender@project.iam.gserviceaccount.com).", "serviceAccountEmail");
        }

        return email;
    }

    /// <summary>A key id or client id: the core wants printable ASCII without spaces; saying so here names the argument.</summary>
    private static string KeyToken(string? value, string name, string what)
    {
        string token = Guard.NotEmpty(value, name, $"The service account's {what} is empty.").Trim();
        foreach (char c in token)
        {
            if (c <= ' ' || c > '~')
            {
                throw new ArgumentException($"The service account's {what} must be printable ASCII without spaces.", name);
            }
        }

        return token;
    }

    private static bool HasSpaceOrControl(string value)
    {
        foreach (char c in value)
        {
            if (char.IsWhiteSpace(c) || char.IsControl(c))
            {
                return true;
            }
        }

        return false;
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

    /// <summary>
    /// A Google service account whose assertions a .NET certificate signs: <c>auth</c> is <c>{"type":"signer"}</c> and
    /// the identity goes into the <c>google</c> object (contracts §2, Google Workspace).
    /// </summary>
    internal sealed class ServiceAccountCertificateCredential(string email, string keyId, string? clientId, X509Certificate2? certificate, string? thumbprint) : PmpMailCredential
    {
        public override string Kind => "serviceAccountCertificate";

        internal override bool IsGoogleServiceAccount => true;

        /// <summary>The certificate given; null when <see cref="Thumbprint"/> names one to find.</summary>
        internal X509Certificate2? Certificate => certificate;

        /// <summary>The normalized thumbprint to find when the client is created; null when <see cref="Certificate"/> is given.</summary>
        internal string? Thumbprint => thumbprint;

        internal override void WriteAuth(Utf8JsonWriter writer)
        {
            writer.WriteStartObject("auth");
            writer.WriteString("type", "signer");
            writer.WriteEndObject();
        }

        /// <summary>The <c>google</c> object's identity fields (the key file would otherwise say them).</summary>
        internal void WriteIdentity(Utf8JsonWriter writer)
        {
            writer.WriteString("serviceAccountEmail", email);
            writer.WriteString("privateKeyId", keyId);
            if (clientId is not null)
            {
                writer.WriteString("clientId", clientId);
            }
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
