@{
    # Root: a few lines that import the cmdlets built for the running edition (PmpMail.PowerShell.dll for
    # PowerShell 7.4+, Desktop\PmpMail.PowerShell.dll for Windows PowerShell 5.1).
    RootModule           = 'PmpMail.psm1'
    # powershell/build.ps1 stamps the version from Cargo.toml ([workspace.package] version, tools/PmpBuild.psm1
    # Get-PmpVersion) into the built module; this placeholder is never published (a Pester test checks it).
    ModuleVersion        = '0.0.0'
    GUID                 = '5d1f2a8e-3c47-4b6e-9a0f-6e2b7c9d4a11'
    Author               = 'pmp-mail'
    CompanyName          = 'pmp-mail'
    Copyright            = '(c) pmp-mail contributors. MIT License.'
    Description          = 'Send mail through Microsoft Graph with an Entra ID app registration (client secret or certificate, Mail.Send application permission) and test the permission; Send-PmpMail takes the parameters of Send-MailMessage. A native library does the OAuth and Graph work: no MSAL, Azure.Core or Graph SDK assemblies are loaded. PowerShell 7.4+ on Windows, Linux and macOS; Windows PowerShell 5.1 on .NET Framework 4.7.2+.'
    PowerShellVersion    = '5.1'
    CompatiblePSEditions = @('Desktop', 'Core')
    FormatsToProcess     = @('PmpMail.Format.ps1xml')
    CmdletsToExport      = @(
        'Send-PmpMail'
        'Test-PmpMailPermission'
        'Connect-PmpMail'
        'Disconnect-PmpMail'
        'New-PmpMailConnection'
        'Register-PmpMailProfile'
        'Get-PmpMailProfile'
        'Unregister-PmpMailProfile'
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('Mail', 'Email', 'SendMail', 'Send-MailMessage', 'SMTP', 'MicrosoftGraph', 'Graph', 'EntraID', 'AzureAD', 'ExchangeOnline', 'PSEdition_Desktop', 'PSEdition_Core', 'Windows', 'Linux', 'MacOS')
            # powershell/build.ps1 sets these three from Cargo.toml's [workspace.package] repository.
            ProjectUri   = 'https://example.invalid/pmp-mail'
            LicenseUri   = 'https://example.invalid/pmp-mail/blob/main/LICENSE'
            ReleaseNotes = 'See CHANGELOG.md: https://example.invalid/pmp-mail/blob/main/CHANGELOG.md'
        }
    }
}
