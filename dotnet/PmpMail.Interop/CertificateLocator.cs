using System;
using System.Collections.Generic;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using PmpMail.Interop.Native;

namespace PmpMail.Interop;

/// <summary>
/// Finds a certificate with its private key by thumbprint: in CurrentUser\My first, then in LocalMachine\My
/// (where services running as SYSTEM or a gMSA keep theirs). Never exports a key.
/// <see cref="PmpMailClient.CreateWithCertificateThumbprint"/> uses it.
/// </summary>
public static class CertificateLocator
{
    /// <summary>
    /// The thumbprint as the stores compare it: its hexadecimal digits, upper-cased, in order. Everything
    /// else is dropped, so the forms people paste work: lower case, spaces or colons between the bytes, and the
    /// invisible left-to-right mark the Windows certificate dialog copies along.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="thumbprint"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="thumbprint"/> holds no hexadecimal digit.</exception>
    public static string NormalizeThumbprint(string thumbprint)
    {
        Guard.NotNull(thumbprint, nameof(thumbprint));
        var digits = new StringBuilder(thumbprint.Length);
        foreach (char c in thumbprint)
        {
            if (Uri.IsHexDigit(c))
            {
                digits.Append(char.ToUpperInvariant(c));
            }
        }

        return digits.Length > 0
            ? digits.ToString()
            : throw new ArgumentException($"The certificate thumbprint '{thumbprint}' holds no hexadecimal digits.", nameof(thumbprint));
    }

    /// <summary>
    /// Finds the certificate with <paramref name="thumbprint"/> (see <see cref="NormalizeThumbprint"/>) and a
    /// private key in CurrentUser\My, then LocalMachine\My. The caller owns, and disposes, the certificate returned.
    /// </summary>
    /// <exception cref="PmpMailCertificateNotFoundException">Neither store holds it with a private key; the message names each store and what was found there.</exception>
    /// <exception cref="ArgumentException"><paramref name="thumbprint"/> holds no hexadecimal digit.</exception>
    public static X509Certificate2 FindByThumbprint(string thumbprint) => FindByThumbprint(thumbprint, out _);

    /// <summary>As <see cref="FindByThumbprint(string)"/>, and says which store it was found in.</summary>
    internal static X509Certificate2 FindByThumbprint(string thumbprint, out StoreLocation foundIn)
    {
        string wanted = NormalizeThumbprint(thumbprint);
        var searched = new List<string>();
        foreach (StoreLocation location in new[] { StoreLocation.CurrentUser, StoreLocation.LocalMachine })
        {
            string storeName = StoreDisplayName(location);
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
                            foundIn = location;
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

        throw new PmpMailCertificateNotFoundException(wanted, searched);
    }

    /// <summary>The store as people write it: CurrentUser\My or LocalMachine\My.</summary>
    internal static string StoreDisplayName(StoreLocation location) => location + @"\My";
}
