using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Runtime.InteropServices;
using System.Security;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using PmpMail.Interop;

namespace PmpMail;

/// <summary>
/// A saved connection profile (Register-PmpMailProfile). Never holds a plain-text secret: certificates are
/// kept by thumbprint or file path, secrets DPAPI-protected (Windows, CurrentUser) or as the name of an
/// environment variable read at use time.
/// </summary>
public sealed class PmpMailProfile
{
    /// <summary>Profile name.</summary>
    public string Name { get; set; } = string.Empty;
    /// <summary>Tenant id, domain or authority URL.</summary>
    public string TenantId { get; set; } = string.Empty;
    /// <summary>Application (client) id.</summary>
    public string ClientId { get; set; } = string.Empty;
    /// <summary>CertificateThumbprint, CertificatePath, ClientSecretProtected or ClientSecretEnvironmentVariable.</summary>
    public string CredentialType { get; set; } = string.Empty;
    /// <summary>Certificate thumbprint (looked up in CurrentUser\My and LocalMachine\My).</summary>
    public string? CertificateThumbprint { get; set; }
    /// <summary>PFX file path.</summary>
    public string? CertificatePath { get; set; }
    /// <summary>Environment variable that holds the client secret.</summary>
    public string? ClientSecretEnvironmentVariable { get; set; }
    /// <summary>Global, USGov, USGovDoD or China.</summary>
    public string? Environment { get; set; }
    /// <summary>Authority host override.</summary>
    public Uri? AuthorityHost { get; set; }
    /// <summary>Graph root override.</summary>
    public Uri? GraphRoot { get; set; }
    /// <summary>Extra CA PEM file.</summary>
    public string? TrustedCaPath { get; set; }
    /// <summary>When it was saved.</summary>
    public DateTimeOffset CreatedOn { get; set; }
    /// <summary>DPAPI (CurrentUser) protected client secret, base64. Windows only.</summary>
    [JsonInclude]
    internal string? ProtectedClientSecret { get; set; }
    /// <summary>DPAPI (CurrentUser) protected PFX password, base64. Windows only.</summary>
    [JsonInclude]
    internal string? ProtectedCertificatePassword { get; set; }
    /// <summary>The file the profile is stored in.</summary>
    [JsonIgnore]
    public string? Path { get; internal set; }

    internal CredentialSpec ToCredentialSpec()
    {
        CredentialKind kind = CredentialType switch
        {
            "CertificateThumbprint" => CredentialKind.CertificateThumbprint,
            "CertificatePath" => CredentialKind.CertificatePath,
            "ClientSecretProtected" => CredentialKind.ClientSecret,
            "ClientSecretEnvironmentVariable" => CredentialKind.ClientSecretEnvironmentVariable,
            _ => throw new PmpMailSetupException("ProfileInvalid", $"Profile '{Name}' has an unknown credential type '{CredentialType}'.", "Register the profile again."),
        };
        return new CredentialSpec
        {
            TenantId = TenantId,
            ClientId = ClientId,
            Kind = kind,
            CertificateThumbprint = CertificateThumbprint,
            CertificatePath = CertificatePath,
            CertificatePassword = ProtectedCertificatePassword is null ? null : Dpapi.Unprotect(ProtectedCertificatePassword, Name),
            ClientSecret = ProtectedClientSecret is null ? null : Dpapi.Unprotect(ProtectedClientSecret, Name),
            ClientSecretEnvironmentVariable = ClientSecretEnvironmentVariable,
            Environment = Enum.TryParse(Environment, true, out PmpMailCloud cloud) ? cloud : null,
            AuthorityHost = AuthorityHost,
            GraphRoot = GraphRoot,
            TrustedCaPath = TrustedCaPath,
            ProfileName = Name,
        };
    }
}

/// <summary>Reads and writes profiles as one JSON file each under the user's config folder.</summary>
internal static class ProfileStore
{
    public const string DirectoryVariable = "PMP_MAIL_PROFILE_DIR";
    private static readonly Regex ValidName = new("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", RegexOptions.CultureInvariant);

    /// <summary>$env:PMP_MAIL_PROFILE_DIR, else %APPDATA%\pmp-mail\profiles (Windows) or ~/.config/pmp-mail/profiles.</summary>
    public static string DirectoryPath
    {
        get
        {
            string? overridePath = System.Environment.GetEnvironmentVariable(DirectoryVariable);
            if (!string.IsNullOrWhiteSpace(overridePath))
            {
                return overridePath;
            }

            string root = System.Environment.GetFolderPath(System.Environment.SpecialFolder.ApplicationData, System.Environment.SpecialFolderOption.DoNotVerify);
            return System.IO.Path.Combine(root, "pmp-mail", "profiles");
        }
    }

    public static void ValidateName(string name)
    {
        if (!ValidName.IsMatch(name))
        {
            throw new PmpMailSetupException("ProfileNameInvalid", $"'{name}' is not a valid profile name.", "Use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.");
        }
    }

    public static string PathOf(string name) => System.IO.Path.Combine(DirectoryPath, name + ".json");

    public static bool Exists(string name) => File.Exists(PathOf(name));

    public static void Save(PmpMailProfile profile)
    {
        ValidateName(profile.Name);
        Directory.CreateDirectory(DirectoryPath);
        string path = PathOf(profile.Name);
        string temp = path + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(profile, ProfileJsonContext.Default.PmpMailProfile), new UTF8Encoding(false));
        if (!OperatingSystem.IsWindows())
        {
            // Owner-only: the file names no secret, but it does name where credentials are.
            File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        File.Move(temp, path, overwrite: true);
        profile.Path = path;
    }

    public static PmpMailProfile Load(string name)
    {
        ValidateName(name);
        string path = PathOf(name);
        if (!File.Exists(path))
        {
            throw new PmpMailSetupException("ProfileNotFound", $"There is no profile named '{name}' in '{DirectoryPath}'.", "List profiles with Get-PmpMailProfile or save one with Register-PmpMailProfile.");
        }

        return Read(path);
    }

    public static IEnumerable<PmpMailProfile> All()
    {
        if (!Directory.Exists(DirectoryPath))
        {
            return Array.Empty<PmpMailProfile>();
        }

        return Directory.EnumerateFiles(DirectoryPath, "*.json").OrderBy(p => p, StringComparer.OrdinalIgnoreCase).Select(Read);
    }

    public static bool Remove(string name)
    {
        ValidateName(name);
        string path = PathOf(name);
        if (!File.Exists(path))
        {
            return false;
        }

        File.Delete(path);
        return true;
    }

    private static PmpMailProfile Read(string path)
    {
        try
        {
            PmpMailProfile profile = JsonSerializer.Deserialize(File.ReadAllText(path), ProfileJsonContext.Default.PmpMailProfile)
                ?? throw new JsonException("empty document");
            profile.Path = path;
            return profile;
        }
        catch (JsonException ex)
        {
            throw new PmpMailSetupException("ProfileInvalid", $"The profile file '{path}' is not valid: {ex.Message}", "Delete it with Unregister-PmpMailProfile and register it again.", ex);
        }
    }
}

/// <summary>DPAPI (CurrentUser scope) for profile secrets on Windows.</summary>
internal static class Dpapi
{
    private static readonly byte[] Entropy = Encoding.UTF8.GetBytes("pmp-mail profile v1");

    public static string Protect(SecureString secret)
    {
        if (!OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("DPAPI is Windows-only.");
        }

        IntPtr chars = Marshal.SecureStringToGlobalAllocUnicode(secret);
        byte[] plain = new byte[secret.Length * 2];
        try
        {
            Marshal.Copy(chars, plain, 0, plain.Length);
            return Convert.ToBase64String(ProtectedData.Protect(plain, Entropy, DataProtectionScope.CurrentUser));
        }
        finally
        {
            Array.Clear(plain);
            Marshal.ZeroFreeGlobalAllocUnicode(chars);
        }
    }

    public static SecureString Unprotect(string protectedBase64, string profileName)
    {
        if (!OperatingSystem.IsWindows())
        {
            throw new PmpMailSetupException("ProfileNotPortable", $"Profile '{profileName}' holds a DPAPI-protected secret, which only Windows (the same user) can read.", "Register the profile on this machine with -ClientSecretEnvironmentVariable or a certificate.");
        }

        byte[] plain = Array.Empty<byte>();
        try
        {
            plain = ProtectedData.Unprotect(Convert.FromBase64String(protectedBase64), Entropy, DataProtectionScope.CurrentUser);
            var secure = new SecureString();
            for (int i = 0; i + 1 < plain.Length; i += 2)
            {
                secure.AppendChar((char)(plain[i] | (plain[i + 1] << 8)));
            }

            secure.MakeReadOnly();
            return secure;
        }
        catch (CryptographicException ex)
        {
            throw new PmpMailSetupException("ProfileSecretUnreadable", $"The secret of profile '{profileName}' cannot be decrypted by this user: {ex.Message}", "DPAPI secrets belong to the user who registered them; register the profile again as this user.", ex);
        }
        finally
        {
            Array.Clear(plain);
        }
    }
}

/// <summary>Tab completion of profile names.</summary>
public sealed class ProfileNameCompleter : IArgumentCompleter
{
    /// <inheritdoc />
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var pattern = new WildcardPattern((wordToComplete ?? string.Empty).Trim('\'', '"') + "*", WildcardOptions.IgnoreCase);
        foreach (string file in Directory.Exists(ProfileStore.DirectoryPath) ? Directory.EnumerateFiles(ProfileStore.DirectoryPath, "*.json") : Array.Empty<string>())
        {
            string name = System.IO.Path.GetFileNameWithoutExtension(file);
            if (pattern.IsMatch(name))
            {
                yield return new CompletionResult(name, name, CompletionResultType.ParameterValue, name);
            }
        }
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(PmpMailProfile))]
internal sealed partial class ProfileJsonContext : JsonSerializerContext
{
}
