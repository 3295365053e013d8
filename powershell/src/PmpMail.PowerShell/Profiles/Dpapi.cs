using System;
using System.Runtime.InteropServices;
using System.Security;
using System.Security.Cryptography;
using System.Text;

namespace PmpMail;

/// <summary>DPAPI (CurrentUser scope) for profile secrets on Windows.</summary>
internal static class Dpapi
{
    private static readonly byte[] Entropy = Encoding.UTF8.GetBytes("pmp-mail profile v1");

    public static string Protect(SecureString secret)
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
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
            Array.Clear(plain, 0, plain.Length);
            Marshal.ZeroFreeGlobalAllocUnicode(chars);
        }
    }

    public static SecureString Unprotect(string protectedBase64, string profileName)
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
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
            Array.Clear(plain, 0, plain.Length);
        }
    }
}
