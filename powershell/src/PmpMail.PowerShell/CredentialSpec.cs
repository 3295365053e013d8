using System;
using System.Collections.Generic;
using System.IO;
using System.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using PmpMail.Interop;

namespace PmpMail;

/// <summary>How a connection authenticates.</summary>
internal enum CredentialKind
{
    ClientSecret,
    ClientSecretCredential,
    ClientSecretEnvironmentVariable,
    CertificateThumbprint,
    Certificate,
    CertificatePath,
}

/// <summary>Everything needed to build a connection, from cmdlet parameters or a saved profile.</summary>
internal sealed class CredentialSpec
{
    public required string TenantId { get; init; }
    public required string ClientId { get; init; }
    public required CredentialKind Kind { get; init; }
    public SecureString? ClientSecret { get; init; }
    public string? ClientSecretEnvironmentVariable { get; init; }
    public string? CertificateThumbprint { get; init; }
    public X509Certificate2? Certificate { get; init; }
    public string? CertificatePath { get; init; }
    public SecureString? CertificatePassword { get; init; }
    public PmpMailCloud? Environment { get; set; }
    public Uri? AuthorityHost { get; set; }
    public Uri? GraphRoot { get; set; }
    public string? TrustedCaPath { get; set; }
    public string? ProfileName { get; init; }
}

/// <summary>Turns a <see cref="CredentialSpec"/> into a connection. Host-free; messages go to <c>verbose</c>.</summary>
internal static class ConnectionFactory
{
    public static PmpMailConnection Create(CredentialSpec spec, Action<string> verbose)
    {
        var config = new PmpMailConfig(spec.TenantId, spec.ClientId)
        {
            Cloud = spec.Environment,
            AuthorityHost = spec.AuthorityHost,
            GraphRoot = spec.GraphRoot,
        };
        if (!string.IsNullOrEmpty(spec.TrustedCaPath))
        {
            config.Http = new PmpMailHttpOptions { ExtraCaCertificatesPem = File.ReadAllText(spec.TrustedCaPath) };
            verbose($"Trusting the extra CA certificates in '{spec.TrustedCaPath}'.");
        }

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
                return Open(config, spec, CertificateLocator.FindByThumbprint(spec.CertificateThumbprint!, verbose), true, verbose);
            case CredentialKind.CertificatePath:
                return Open(config, spec, CertificateLocator.LoadPfx(spec.CertificatePath!, spec.CertificatePassword), true, verbose);
            default:
                throw new ArgumentOutOfRangeException(nameof(spec), spec.Kind, "Unknown credential kind.");
        }
    }

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
                verbose($"Signing client assertions with certificate {certificate.Thumbprint} ({certificate.Subject}, expires {certificate.NotAfter:u}); the private key stays in .NET.");
                client = PmpMailClient.CreateWithCertificate(config, certificate);
            }

            verbose($"Client created for app {config.ClientId} in tenant {config.Tenant} (native library {PmpMailClient.NativeVersion}).");
            return new PmpMailConnection(client, spec, certificate, ownsCertificate);
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

/// <summary>A problem found before the native library is called (missing certificate, file, variable, profile).</summary>
public sealed class PmpMailSetupException(string errorId, string message, string remedy, Exception? inner = null)
    : Exception(message + " Remedy: " + remedy, inner)
{
    /// <summary>The ErrorId part of FullyQualifiedErrorId, without the "PmpMail." prefix.</summary>
    public string ErrorId { get; } = errorId;

    /// <summary>What to do about it.</summary>
    public string Remedy { get; } = remedy;
}

/// <summary>Finds certificates in the stores and PFX files; never exports a key.</summary>
internal static class CertificateLocator
{
    public static X509Certificate2 FindByThumbprint(string thumbprint, Action<string> verbose)
    {
        string wanted = NormalizeThumbprint(thumbprint);
        var searched = new List<string>();
        // CurrentUser first, then LocalMachine: services running as SYSTEM or gMSA keep certificates there.
        foreach (StoreLocation location in new[] { StoreLocation.CurrentUser, StoreLocation.LocalMachine })
        {
            string storeName = $@"{location}\My";
            try
            {
                using var store = new X509Store(StoreName.My, location);
                store.Open(OpenFlags.ReadOnly | OpenFlags.OpenExistingOnly);
                X509Certificate2Collection found = store.Certificates.Find(X509FindType.FindByThumbprint, wanted, validOnly: false);
                try
                {
                    foreach (X509Certificate2 candidate in found)
                    {
                        if (candidate.HasPrivateKey)
                        {
                            verbose($"Certificate {wanted} found in {storeName}.");
                            return new X509Certificate2(candidate);
                        }
                    }

                    searched.Add(found.Count > 0 ? $"{storeName} (found, but without a private key)" : $"{storeName} (not found)");
                }
                finally
                {
                    foreach (X509Certificate2 c in found)
                    {
                        c.Dispose();
                    }
                }
            }
            catch (Exception ex) when (ex is CryptographicException or PlatformNotSupportedException or UnauthorizedAccessException)
            {
                // On Linux and macOS LocalMachine\My does not exist; say so instead of failing the lookup.
                searched.Add($"{storeName} (cannot be opened here: {ex.Message})");
            }
        }

        throw new PmpMailSetupException(
            "CertificateNotFound",
            $"No certificate with thumbprint {wanted} and a private key was found. Searched: {string.Join("; ", searched)}.",
            "Import the certificate with its private key into CurrentUser\\My or LocalMachine\\My of the account that runs this, or pass -CertificatePath/-Certificate instead.");
    }

    public static X509Certificate2 LoadPfx(string path, SecureString? password)
    {
        if (!File.Exists(path))
        {
            throw new PmpMailSetupException("CertificateFileNotFound", $"The certificate file '{path}' does not exist.", "Check -CertificatePath.");
        }

        try
        {
            // Ephemeral keys never touch disk; macOS does not support them.
            X509KeyStorageFlags flags = OperatingSystem.IsMacOS() ? X509KeyStorageFlags.DefaultKeySet : X509KeyStorageFlags.EphemeralKeySet;
            var certificate = new X509Certificate2(path, password, flags);
            if (!certificate.HasPrivateKey)
            {
                certificate.Dispose();
                throw new PmpMailSetupException("CertificateWithoutPrivateKey", $"'{path}' holds no private key.", "Export the certificate as a PFX that includes the private key.");
            }

            return certificate;
        }
        catch (CryptographicException ex)
        {
            throw new PmpMailSetupException("CertificateFileUnreadable", $"'{path}' could not be read as a PFX: {ex.Message}", "Check the file and -CertificatePassword.", ex);
        }
    }

    public static string NormalizeThumbprint(string thumbprint)
    {
        var chars = new System.Text.StringBuilder(thumbprint.Length);
        foreach (char c in thumbprint)
        {
            if (Uri.IsHexDigit(c))
            {
                chars.Append(char.ToUpperInvariant(c));
            }
        }

        return chars.ToString();
    }
}
