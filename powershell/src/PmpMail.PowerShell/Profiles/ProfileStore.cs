using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace PmpMail;

/// <summary>Reads and writes profiles as one JSON file each under the user's config folder.</summary>
internal static partial class ProfileStore
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
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
        {
            // Owner-only: the file names no secret, but it does name where credentials are.
            RestrictToOwner(temp);
        }

        MoveOverwrite(temp, path);
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
