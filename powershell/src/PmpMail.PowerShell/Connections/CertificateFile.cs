using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace PmpMail;

/// <summary>Loads -CertificatePath PFX files into .NET, so their key signs in this process like a store key.</summary>
internal static partial class CertificateFile
{
    /// <summary>
    /// True for a PEM (text) file, false for a PFX: a PKCS#12 file is DER, whose first byte is 0x30 (SEQUENCE), which
    /// PEM text (possibly after "Bag Attributes" lines) never starts with.
    /// </summary>
    public static bool IsPem(string path)
    {
        using FileStream stream = File.OpenRead(path);
        int first = stream.ReadByte();
        return first is not -1 and not 0x30;
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
            X509KeyStorageFlags flags = RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? X509KeyStorageFlags.DefaultKeySet : EphemeralKeySet;
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
}
