using System;
using System.Collections.Generic;
using System.Management.Automation;
using System.Runtime.InteropServices;
using System.Security.Cryptography.X509Certificates;
using PmpMail.Interop;

namespace PmpMail.Commands;

/// <summary>
/// Saves a named connection profile (tenant, app, how to find the credential) for -ProfileName. Never writes
/// a plain-text secret: certificates are saved by thumbprint or path, secrets DPAPI-protected on Windows or
/// as the name of an environment variable; managed identity, workload identity and -EnvironmentVariable
/// profiles need no secret.
/// </summary>
[Cmdlet(VerbsLifecycle.Register, "PmpMailProfile", DefaultParameterSetName = CertificateThumbprintSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(PmpMailProfile))]
public sealed class RegisterPmpMailProfileCommand : PmpMailCredentialCmdletBase
{
    /// <summary>The profile name.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = string.Empty;

    /// <summary>Replace an existing profile of the same name.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Return the saved profile.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <inheritdoc />
    protected override void EndProcessing()
    {
        try
        {
            ProfileStore.ValidateName(Name);
            if (ProfileStore.Exists(Name) && !Force)
            {
                throw new PmpMailSetupException("ProfileExists", $"A profile named '{Name}' already exists.", "Use -Force to replace it, or another -Name.");
            }

            CredentialSpec spec = BuildCredentialSpec(Name)!;
            PmpMailProfile profile = ToProfile(spec);
            if (!ShouldProcess(ProfileStore.PathOf(Name), $"Save profile '{Name}' ({profile.CredentialType}) for {spec.Describe()}"))
            {
                return;
            }

            ProfileStore.Save(profile);
            WriteVerbose($"Profile '{Name}' saved to '{profile.Path}'.");
            if (PassThru)
            {
                WriteObject(profile);
            }
        }
        catch (PmpMailSetupException ex)
        {
            ThrowSetupError(ex, Name);
        }
    }

    private PmpMailProfile ToProfile(CredentialSpec spec)
    {
        var profile = new PmpMailProfile
        {
            Name = Name,
            TenantId = spec.TenantId,
            ClientId = spec.ClientId,
            Environment = spec.Environment?.ToString(),
            AuthorityHost = spec.AuthorityHost,
            GraphRoot = spec.GraphRoot,
            TrustedCaPath = spec.TrustedCaPath,
            Proxy = spec.Proxy,
            NoProxy = spec.NoProxy,
            AssertionAlgorithm = spec.AssertionAlgorithm?.ToString(),
            RetryUnknownOutcome = spec.RetryUnknownOutcome,
            TimeoutSeconds = spec.TimeoutSeconds,
            MaxRetryWaitSeconds = spec.MaxRetryWaitSeconds,
            MaxRetryAttempts = spec.MaxRetryAttempts,
            CreatedOn = DateTimeOffset.Now,
        };
        switch (spec.Kind)
        {
            case CredentialKind.CertificateThumbprint:
            case CredentialKind.Certificate:
                string thumbprint = NormalizeThumbprint(spec.CertificateThumbprint ?? spec.Certificate!.Thumbprint);
                profile.CredentialType = "CertificateThumbprint";
                profile.CertificateThumbprint = thumbprint;
                WarnIfNotInStore(thumbprint);
                break;
            case CredentialKind.CertificatePath:
                profile.CredentialType = "CertificatePath";
                profile.CertificatePath = spec.CertificatePath;
                if (spec.CertificatePassword is { Length: > 0 })
                {
                    profile.ProtectedCertificatePassword = ProtectOrRefuse(spec.CertificatePassword, "PFX password");
                }

                break;
            case CredentialKind.ClientSecretEnvironmentVariable:
                profile.CredentialType = "ClientSecretEnvironmentVariable";
                profile.ClientSecretEnvironmentVariable = spec.ClientSecretEnvironmentVariable;
                break;
            case CredentialKind.ManagedIdentity:
                // The identity header and endpoints are the platform's, read where the profile is used.
                profile.CredentialType = "ManagedIdentity";
                profile.ManagedIdentityObjectId = spec.ManagedIdentityObjectId;
                profile.ManagedIdentityResourceId = spec.ManagedIdentityResourceId;
                break;
            case CredentialKind.WorkloadIdentity:
                profile.CredentialType = "WorkloadIdentity";
                profile.FederatedTokenFile = spec.FederatedTokenFile;
                var fromEnvironment = new List<string>();
                if (spec.TenantId is null)
                {
                    fromEnvironment.Add(EnvironmentCredential.TenantId);
                }

                if (spec.ClientId is null)
                {
                    fromEnvironment.Add(EnvironmentCredential.ClientId);
                }

                if (fromEnvironment.Count > 0)
                {
                    WriteVerbose($"The profile reads {string.Join(" and ", fromEnvironment)} where it is used (-TenantId or -ClientId not given).");
                }

                break;
            case CredentialKind.ClientAssertion:
                throw new PmpMailSetupException(
                    "ClientAssertionNotSaved",
                    "A -ClientAssertion script block cannot be saved in a profile.",
                    "Register the profile with -FederatedTokenFile (have the job write the token to that file), or pass -ClientAssertion each time.");
            case CredentialKind.GoogleServiceAccountKeyPath:
                // The key file's path only: the key stays in its file (protect it with the file system's ACLs).
                profile.CredentialType = "GoogleServiceAccountKeyPath";
                profile.ServiceAccountKeyPath = spec.ServiceAccountKeyPath;
                SaveGoogle(profile, spec);
                break;
            case CredentialKind.GoogleServiceAccountKeyEnvironmentVariable:
                // The variable's name only: the key is read from it where the profile is used.
                profile.CredentialType = "GoogleServiceAccountKeyEnvironmentVariable";
                profile.ServiceAccountKeyEnvironmentVariable = spec.ServiceAccountKeyEnvironmentVariable;
                SaveGoogle(profile, spec);
                break;
            case CredentialKind.GoogleServiceAccountCertificateThumbprint:
            case CredentialKind.GoogleServiceAccountCertificate:
                // As for Entra: a certificate object is saved by its thumbprint and found in the store where used.
                string googleThumbprint = NormalizeThumbprint(spec.CertificateThumbprint ?? spec.Certificate!.Thumbprint);
                profile.CredentialType = "GoogleServiceAccountCertificateThumbprint";
                profile.CertificateThumbprint = googleThumbprint;
                SaveGoogle(profile, spec);
                WarnIfNotInStore(googleThumbprint);
                break;
            case CredentialKind.GoogleServiceAccountCertificatePath:
                profile.CredentialType = "GoogleServiceAccountCertificatePath";
                profile.CertificatePath = spec.CertificatePath;
                if (spec.CertificatePassword is { Length: > 0 })
                {
                    profile.ProtectedCertificatePassword = ProtectOrRefuse(spec.CertificatePassword, "PFX password");
                }

                SaveGoogle(profile, spec);
                break;
            case CredentialKind.GoogleServiceAccountKey:
                throw new PmpMailSetupException(
                    "ServiceAccountKeyNotSaved",
                    "A -ServiceAccountKey (the key itself) is never saved in a profile.",
                    "Register the profile with -ServiceAccountKeyPath (the key file, protected by its file permissions) or -ServiceAccountKeyEnvironmentVariable (the name of a variable that holds it), or pass -ServiceAccountKey each time.");
            case CredentialKind.EnvironmentVariable:
                // Only the endpoint settings are saved; the AZURE_* variables are read where the profile is used.
                profile.CredentialType = "EnvironmentVariable";
                break;
            default:
                profile.CredentialType = "ClientSecretProtected";
                profile.ProtectedClientSecret = ProtectOrRefuse(spec.ClientSecret!, "client secret");
                break;
        }

        return profile;
    }

    /// <summary>The Google settings every Google profile keeps (the certificate's email and key id are no secrets).</summary>
    private static void SaveGoogle(PmpMailProfile profile, CredentialSpec spec)
    {
        profile.ServiceAccountEmail = spec.ServiceAccountEmail;
        profile.ServiceAccountKeyId = spec.ServiceAccountKeyId;
        profile.Impersonate = spec.Impersonate;
        profile.GoogleTokenUri = spec.GoogleTokenUri;
        profile.GmailRoot = spec.GmailRoot;
    }

    private static string ProtectOrRefuse(System.Security.SecureString secret, string what)
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
        {
            throw new PmpMailSetupException(
                "PlainSecretRefused",
                $"Refusing to save the {what}: this is not Windows, so there is no DPAPI to protect it, and PmpMail never stores secrets in plain text.",
                "Use -ClientSecretEnvironmentVariable NAME (read when the profile is used), or a certificate (-CertificateThumbprint, or a PFX without a password).");
        }

        return Dpapi.Protect(secret);
    }

    private static string NormalizeThumbprint(string thumbprint)
    {
        try
        {
            return CertificateLocator.NormalizeThumbprint(thumbprint);
        }
        catch (ArgumentException ex)
        {
            throw ConnectionFactory.ThumbprintInvalid(thumbprint, ex);
        }
    }

    private void WarnIfNotInStore(string thumbprint)
    {
        try
        {
            CertificateLocator.FindByThumbprint(thumbprint).Dispose();
        }
        catch (PmpMailCertificateNotFoundException ex)
        {
            WriteWarning($"The profile is saved, but the certificate is not usable yet: {ConnectionFactory.CertificateNotFound(ex).Message}");
        }
    }
}
