@{
    RootModule           = 'PmpMail.PowerShell.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '5d1f2a8e-3c47-4b6e-9a0f-6e2b7c9d4a11'
    Author               = 'pmp-mail'
    CompanyName          = 'pmp-mail'
    Copyright            = '(c) pmp-mail contributors. MIT License.'
    Description          = 'Send mail through Microsoft Graph with an Entra ID app registration (client secret or certificate, Mail.Send application permission) and test the permission. A native library does the work: no MSAL, Azure.Core or Graph SDK assemblies are loaded.'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
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
            Tags         = @('Mail', 'Email', 'MicrosoftGraph', 'Graph', 'EntraID', 'AzureAD', 'SendMail', 'Send-MailMessage', 'PSEdition_Core', 'Windows', 'Linux', 'MacOS')
            LicenseUri   = 'https://example.invalid/pmp-mail/LICENSE'
            ProjectUri   = 'https://example.invalid/pmp-mail'
            ReleaseNotes = 'First release: Send-PmpMail, Test-PmpMailPermission, connections and profiles.'
        }
    }
}
