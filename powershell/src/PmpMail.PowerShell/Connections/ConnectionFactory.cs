using System;
using System.IO;
using System.Security.Cryptography.X509Certificates;
using PmpMail.Interop;

namespace PmpMail;

/// <summary>Turns a <see cref="CredentialSpec"/> into a connection. Host-free; messages go to <c>verbose</c>.</summary>
internal static class ConnectionFactory
{
    /// <summary>Sends in flight in all for a client the module makes (the library's maximum).</summary>
    internal const int MaxConcurrentSends = 64;

    public static PmpMailConnection Create(CredentialSpec spec, Action<string> verbose) =>
        Create(spec, System.Environment.GetEnvironmentVariable, verbose);

    /// <param name="spec">The credential; -EnvironmentVariable and workload identity's defaults are read here.</param>
    /// <param name="readVariable">Reads an environment variable (the process's, as .NET sees it).</param>
    /// <param name="verbose">Receives the messages.</param>
    public static PmpMailConnection Create(CredentialSpec spec, Func<string, string?> readVariable, Action<string> verbose)
    {
        spec = EnvironmentCredential.Resolve(spec, readVariable, verbose);
        if (spec.IsGoogle)
        {
            return CreateGoogle(spec, readVariable, verbose);
        }

        PmpMailConfig config = NewConfig(spec, readVariable, verbose);
        config.Cloud = spec.Environment;
        config.AuthorityHost = spec.AuthorityHost;
        config.GraphRoot = spec.GraphRoot;
        config.AssertionAlgorithm = spec.AssertionAlgorithm;
        ApplyCommon(config, spec, verbose);
        switch (spec.Kind)
        {
            case CredentialKind.ClientSecret:
            case CredentialKind.ClientSecretCredential:
                config.Credential = PmpMailCredential.FromClientSecret(spec.ClientSecret!);
                return Open(config, spec, null, false, verbose);
            case CredentialKind.ClientSecretEnvironmentVariable:
                config.Credential = ReadSecretVariable(spec.ClientSecretEnvironmentVariable!);
                verbose($"Client secret read from environment variable '{spec.ClientSecretEnvironmentVariable}'.");
                return Open(config, spec, null, false, verbose);
            case CredentialKind.Certificate:
                return Open(config, spec, spec.Certificate!, false, verbose);
            case CredentialKind.CertificateThumbprint:
                return OpenByThumbprint(config, spec, verbose);
            case CredentialKind.CertificatePath:
                return Open(config, spec, CertificateFile.LoadPfx(spec.CertificatePath!, spec.CertificatePassword), true, verbose);
            case CredentialKind.CertificatePem:
                // One file with both: the native library takes the CERTIFICATE block and the PRIVATE KEY block.
                config.Credential = PmpMailCredential.FromPemFiles(spec.CertificatePath!, spec.CertificatePath!);
                return Open(config, spec, null, false, verbose);
            case CredentialKind.ManagedIdentity:
            case CredentialKind.WorkloadIdentity:
                return Open(config, spec, null, false, verbose);
            case CredentialKind.ClientAssertion:
                var assertion = new ScriptBlockAssertion(spec.ClientAssertion!);
                verbose("Client assertions come from the -ClientAssertion script block, run in this session once per token.");
                return Connected(PmpMailClient.CreateWithClientAssertion(config, assertion.Provide), spec, null, false, verbose, assertion);
            default:
                throw new ArgumentOutOfRangeException(nameof(spec), spec.Kind, "Unknown credential kind.");
        }
    }

    /// <summary>The settings both providers take: CA, proxy, timeout, retries, send concurrency.</summary>
    private static void ApplyCommon(PmpMailConfig config, CredentialSpec spec, Action<string> verbose)
    {
        if (!string.IsNullOrEmpty(spec.TrustedCaPath))
        {
            config.Http = new PmpMailHttpOptions { ExtraCaCertificatesPem = File.ReadAllText(spec.TrustedCaPath) };
            verbose($"Trusting the extra CA certificates in '{spec.TrustedCaPath}'.");
        }

        if (spec.Proxy is not null || spec.NoProxy is not null)
        {
            config.Http ??= new PmpMailHttpOptions();
            config.Http.Proxy = spec.Proxy;
            config.Http.NoProxy = spec.NoProxy;
            // The URL may carry a user name and password: only its scheme, host and port are shown.
            verbose(spec.Proxy is null ? "No explicit proxy; -NoProxy applies to the environment's proxy." : $"Using the proxy {spec.Proxy.Scheme}://{spec.Proxy.Authority}.");
        }

        if (spec.TimeoutSeconds is int timeout)
        {
            config.Http ??= new PmpMailHttpOptions();
            config.Http.TimeoutSeconds = timeout;
        }

        if (spec.RetryUnknownOutcome == true || spec.MaxRetryWaitSeconds is not null || spec.MaxRetryAttempts is not null)
        {
            config.Retry = new PmpMailRetryOptions { RetryUnknownOutcome = spec.RetryUnknownOutcome == true ? true : null, MaxTotalWaitSeconds = spec.MaxRetryWaitSeconds, MaxAttempts = spec.MaxRetryAttempts };
            if (spec.RetryUnknownOutcome == true)
            {
                verbose("-RetryUnknownOutcome: a send whose answer is lost is retried, so a message may arrive twice.");
            }
        }

        // The per-mailbox limit is what paces a pipeline; the library's overall default (16) would
        // cap a pipeline to many mailboxes at 4 of them, so a module client allows its maximum.
        config.Sending = new PmpMailSendingOptions { MaxConcurrent = MaxConcurrentSends };
        if (spec.MaxConcurrentPerMailbox is int perMailbox)
        {
            config.Sending.MaxConcurrentPerMailbox = perMailbox;
            verbose($"Up to {perMailbox} sends in flight per mailbox (Graph allows 4 per app and mailbox; more may be refused with 429).");
        }
    }

    /// <summary>
    /// Google Workspace: the key (file, SecureString or environment variable) or a certificate that signs in .NET,
    /// then the native client. A PFX the factory loads belongs to the connection; a store certificate to the client.
    /// </summary>
    private static PmpMailConnection CreateGoogle(CredentialSpec spec, Func<string, string?> readVariable, Action<string> verbose)
    {
        X509Certificate2? loaded = spec.Kind == CredentialKind.GoogleServiceAccountCertificatePath
            ? CertificateFile.LoadPfx(spec.CertificatePath!, spec.CertificatePassword)
            : null;
        try
        {
            PmpMailConfig config = NewGoogleConfig(spec, GoogleCredential(spec, readVariable, loaded, verbose), verbose);
            ApplyCommon(config, spec, verbose);
            PmpMailClient client;
            try
            {
                client = PmpMailClient.Create(config);
            }
            catch (PmpMailCredentialException ex) when (spec.Kind == CredentialKind.GoogleServiceAccountKeyEnvironmentVariable)
            {
                // The core names fields and positions only, never the text: safe to repeat, with the variable's name.
                throw new PmpMailSetupException(
                    "ServiceAccountKeyEnvironmentVariableInvalid",
                    $"The environment variable '{spec.ServiceAccountKeyEnvironmentVariable}' does not hold a usable service account key: {ex.Detail.Message}.",
                    "Set it to the whole text of the service account's JSON key file as the Google Cloud console downloads it (not the file's path: for a file use -ServiceAccountKeyPath).",
                    ex);
            }
            catch (PmpMailCertificateNotFoundException ex)
            {
                throw CertificateNotFound(ex);
            }

            if (client.SigningCertificate is X509Certificate2 certificate)
            {
                verbose($"Signing Google's token assertions (RS256, key {spec.ServiceAccountKeyId}) with certificate {certificate.Thumbprint} ({certificate.Subject}, expires {certificate.NotAfter:u}); the private key stays in .NET.");
            }

            return Connected(client, spec, client.SigningCertificate, ownsCertificate: loaded is not null, verbose);
        }
        catch
        {
            loaded?.Dispose();
            throw;
        }
    }

    /// <summary>The Google credential for the spec's kind; argument problems become setup errors naming the parameter.</summary>
    private static PmpMailCredential GoogleCredential(CredentialSpec spec, Func<string, string?> readVariable, X509Certificate2? loaded, Action<string> verbose)
    {
        switch (spec.Kind)
        {
            case CredentialKind.GoogleServiceAccountKeyPath:
                if (!File.Exists(spec.ServiceAccountKeyPath))
                {
                    throw new PmpMailSetupException("ServiceAccountKeyFileNotFound", $"The service account key file '{spec.ServiceAccountKeyPath}' does not exist.", "Check -ServiceAccountKeyPath: the JSON key file downloaded from the Google Cloud console (IAM > Service accounts > Keys).");
                }

                verbose($"Google Workspace: service account key file '{spec.ServiceAccountKeyPath}'.");
                return PmpMailCredential.FromServiceAccountKeyFile(spec.ServiceAccountKeyPath!);
            case CredentialKind.GoogleServiceAccountKey:
                verbose("Google Workspace: service account key from -ServiceAccountKey.");
                return PmpMailCredential.FromServiceAccountKeyJson(spec.ServiceAccountKey!);
            case CredentialKind.GoogleServiceAccountKeyEnvironmentVariable:
                string name = spec.ServiceAccountKeyEnvironmentVariable!;
                string? text = readVariable(name);
                if (string.IsNullOrWhiteSpace(text))
                {
                    throw new PmpMailSetupException(
                        "ServiceAccountKeyEnvironmentVariableNotSet",
                        $"The environment variable '{name}' that should hold the service account's JSON key is not set or empty in this process.",
                        "Set it to the whole text of the key file for the account that runs the job (for example from the CI system's secret store) before calling the cmdlet, or use -ServiceAccountKeyPath.");
                }

                verbose($"Google Workspace: service account key read from environment variable '{name}'.");
                return PmpMailCredential.FromServiceAccountKeyJson(text!);
            default:
                try
                {
                    PmpMailCredential credential = spec.Kind == CredentialKind.GoogleServiceAccountCertificateThumbprint
                        ? PmpMailCredential.FromServiceAccountCertificateThumbprint(spec.ServiceAccountEmail!, spec.CertificateThumbprint!, spec.ServiceAccountKeyId!, spec.ClientId)
                        : PmpMailCredential.FromServiceAccountCertificate(spec.ServiceAccountEmail!, loaded ?? spec.Certificate!, spec.ServiceAccountKeyId!, spec.ClientId);
                    verbose($"Google Workspace: service account {spec.ServiceAccountEmail}, key {spec.ServiceAccountKeyId}, signed by a certificate in .NET.");
                    return credential;
                }
                catch (ArgumentException ex)
                {
                    throw SignerArgumentInvalid(spec, ex);
                }
        }
    }

    private static PmpMailSetupException SignerArgumentInvalid(CredentialSpec spec, ArgumentException ex)
    {
        // The Interop's messages without the "(Parameter 'x')" suffix .NET appends.
        string message = ex.ParamName is null ? ex.Message : ex.Message.Replace($" (Parameter '{ex.ParamName}')", string.Empty).Replace($"{System.Environment.NewLine}Parameter name: {ex.ParamName}", string.Empty);
        return ex.ParamName switch
        {
            "thumbprint" => ThumbprintInvalid(spec.CertificateThumbprint!, ex),
            "serviceAccountEmail" => new PmpMailSetupException("ServiceAccountEmailInvalid", message, "Pass -ServiceAccountEmail as the key file's client_email, e.g. sender@project.iam.gserviceaccount.com.", ex),
            "privateKeyId" => new PmpMailSetupException("ServiceAccountKeyIdInvalid", message, "Pass -ServiceAccountKeyId as the Cloud console lists the uploaded key (IAM & Admin > Service accounts > Keys).", ex),
            "clientId" => new PmpMailSetupException("ServiceAccountClientIdInvalid", message, "Pass -ClientId as the service account's numeric client id (Unique ID), or leave it out.", ex),
            _ => new PmpMailSetupException("ServiceAccountCertificateInvalid", message, "Use an RSA certificate with its private key (from the store or a PFX) whose public key was uploaded to the service account.", ex),
        };
    }

    /// <summary>The setup error (ErrorId CertificateNotFound) for a thumbprint neither store holds with a private key.</summary>
    public static PmpMailSetupException CertificateNotFound(PmpMailCertificateNotFoundException exception) => new(
        "CertificateNotFound",
        exception.Detail.Message!,
        "Import the certificate with its private key into CurrentUser\\My or LocalMachine\\My of the account that runs this, or pass -CertificatePath/-Certificate instead.",
        exception);

    /// <summary>The setup error (ErrorId CertificateThumbprintInvalid) for a thumbprint without a single hexadecimal digit.</summary>
    public static PmpMailSetupException ThumbprintInvalid(string thumbprint, ArgumentException exception) => new(
        "CertificateThumbprintInvalid",
        $"The certificate thumbprint '{thumbprint}' holds no hexadecimal digits.",
        "Pass the certificate's SHA-1 thumbprint (40 hexadecimal digits; case, spaces and colons do not matter).",
        exception);

    private static PmpMailConnection Open(PmpMailConfig config, CredentialSpec spec, X509Certificate2? certificate, bool ownsCertificate, Action<string> verbose)
    {
        try
        {
            PmpMailClient client;
            if (certificate is null)
            {
                client = PmpMailClient.Create(config);
            }
            else
            {
                VerboseSigning(certificate, verbose);
                client = PmpMailClient.CreateWithCertificate(config, certificate);
            }

            return Connected(client, spec, certificate, ownsCertificate, verbose);
        }
        catch
        {
            if (ownsCertificate)
            {
                certificate?.Dispose();
            }

            throw;
        }
    }

    /// <summary>The store lookup is PmpMail.Interop's, as for any C# host; the client owns the certificate it found.</summary>
    private static PmpMailConnection OpenByThumbprint(PmpMailConfig config, CredentialSpec spec, Action<string> verbose)
    {
        PmpMailClient client;
        try
        {
            client = PmpMailClient.CreateWithCertificateThumbprint(config, spec.CertificateThumbprint!);
        }
        catch (PmpMailCertificateNotFoundException ex)
        {
            throw CertificateNotFound(ex);
        }
        catch (ArgumentException ex)
        {
            throw ThumbprintInvalid(spec.CertificateThumbprint!, ex);
        }

        X509Certificate2 certificate = client.SigningCertificate!;
        verbose($"Certificate {certificate.Thumbprint} found in {client.SigningCertificateStoreLocation}\\My.");
        VerboseSigning(certificate, verbose);
        return Connected(client, spec, certificate, ownsCertificate: false, verbose);
    }

    private static void VerboseSigning(X509Certificate2 certificate, Action<string> verbose) =>
        verbose($"Signing client assertions with certificate {certificate.Thumbprint} ({certificate.Subject}, expires {certificate.NotAfter:u}); the private key stays in .NET.");

    private static PmpMailConnection Connected(PmpMailClient client, CredentialSpec spec, X509Certificate2? certificate, bool ownsCertificate, Action<string> verbose, ScriptBlockAssertion? assertion = null)
    {
        verbose($"Client created for {spec.Describe()} (native library {PmpMailClient.NativeVersion}).");
        return new PmpMailConnection(client, spec, certificate, ownsCertificate, assertion);
    }

    /// <summary>
    /// The config for the spec's identity: tenant and client id for app credentials and workload identity (whose
    /// defaults <see cref="EnvironmentCredential.Resolve"/> filled in); neither for a managed identity.
    /// </summary>
    private static PmpMailConfig NewConfig(CredentialSpec spec, Func<string, string?> readVariable, Action<string> verbose)
    {
        switch (spec.Kind)
        {
            case CredentialKind.ManagedIdentity:
                PmpManagedIdentityId identity =
                    !string.IsNullOrEmpty(spec.ManagedIdentityObjectId) ? PmpManagedIdentityId.FromObjectId(spec.ManagedIdentityObjectId!)
                    : !string.IsNullOrEmpty(spec.ManagedIdentityResourceId) ? PmpManagedIdentityId.FromResourceId(spec.ManagedIdentityResourceId!)
                    : !string.IsNullOrEmpty(spec.ClientId) ? PmpManagedIdentityId.FromClientId(spec.ClientId!)
                    : PmpManagedIdentityId.SystemAssigned;
                // The endpoints are read here and handed over: native code does not see $env: changes on Linux/macOS.
                PmpManagedIdentityEndpoints? endpoints = EnvironmentCredential.ManagedIdentityEndpoints(readVariable, out string source);
                verbose($"Managed identity ({spec.ManagedIdentityDescription}) through {source}; no secret is used.");
                if (spec.AuthorityHost is not null)
                {
                    verbose("-AuthorityHost is not used: a managed identity's token comes from the local endpoint.");
                }

                return new PmpMailConfig(PmpMailCredential.FromManagedIdentity(identity)) { ManagedIdentityEndpoints = endpoints };
            case CredentialKind.WorkloadIdentity:
                return new PmpMailConfig(spec.TenantId!, spec.ClientId!) { Credential = PmpMailCredential.FromWorkloadIdentity(spec.FederatedTokenFile!) };
            default:
                return new PmpMailConfig(spec.TenantId!, spec.ClientId!);
        }
    }

    /// <summary>
    /// Google Workspace: the credential, -Impersonate and the Google endpoints. The Entra-only settings
    /// (-Environment, -AuthorityHost, -GraphRoot, -AssertionAlgorithm) do not apply and are refused.
    /// </summary>
    private static PmpMailConfig NewGoogleConfig(CredentialSpec spec, PmpMailCredential credential, Action<string> verbose)
    {
        string? entraOnly =
            spec.Environment is not null ? "-Environment"
            : spec.AuthorityHost is not null ? "-AuthorityHost"
            : spec.GraphRoot is not null ? "-GraphRoot"
            : spec.AssertionAlgorithm is not null ? "-AssertionAlgorithm"
            : null;
        if (entraOnly is not null)
        {
            throw new PmpMailSetupException(
                "GoogleParameterConflict",
                $"{entraOnly} is a Microsoft 365 setting; it does not apply to a Google Workspace service account.",
                "Leave it out; for the emulator or a proxy use -GoogleTokenUri and -GmailRoot.");
        }

        verbose(spec.Impersonate is null ? "Impersonating each message's From address (domain-wide delegation)." : $"Impersonating {spec.Impersonate} (domain-wide delegation).");
        PmpMailConfig config = PmpMailConfig.ForGoogleWorkspace(credential, spec.Impersonate);
        config.GoogleTokenUri = spec.GoogleTokenUri;
        config.GmailRoot = spec.GmailRoot;
        return config;
    }

    private static PmpMailCredential ReadSecretVariable(string name)
    {
        string? value = System.Environment.GetEnvironmentVariable(name);
        if (string.IsNullOrEmpty(value))
        {
            throw new PmpMailSetupException(
                "SecretEnvironmentVariableNotSet",
                $"The environment variable '{name}' that should hold the client secret is not set or empty in this process.",
                "Set it for the account that runs the job (for example from the scheduler's secret store) before calling the cmdlet.");
        }

        return PmpMailCredential.FromClientSecret(value);
    }
}
