# Saved profiles: register, list, use with -ProfileName, unregister; never plain-text secrets.
Describe 'PmpMail profiles' -Tag 'CI' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'common.ps1')
        $script:Cert = New-TestCertificate -Subject 'CN=pmp-mail profile test'
        $script:Emulator = Start-TestEmulator -Directory (Get-TestDirectory -CertificatePem $Cert.ExportCertificatePem())
        $script:ep = Get-EndpointParameters
        $script:SavedProfileDir = $env:PMP_MAIL_PROFILE_DIR
        $env:PMP_MAIL_PROFILE_DIR = Join-Path $Emulator.StateDir 'profiles'
        $script:Store = [Security.Cryptography.X509Certificates.X509Store]::new('My', 'CurrentUser')
        $Store.Open('ReadWrite')
        $script:Persisted = [Security.Cryptography.X509Certificates.X509Certificate2]::new($Cert.Export('Pfx', 'tmp'), 'tmp', [Security.Cryptography.X509Certificates.X509KeyStorageFlags]'PersistKeySet,Exportable')
        $Store.Add($Persisted)
    }
    AfterAll {
        $Store.Remove($Persisted)
        $Store.Close()
        $env:PMP_MAIL_PROFILE_DIR = $script:SavedProfileDir
        Stop-TestEmulator $script:Emulator
    }
    BeforeEach {
        Invoke-Emulator 'reset' -Method POST | Out-Null
    }

    It 'registers a certificate-thumbprint profile (the existing app registration) and sends with -ProfileName' {
        Register-PmpMailProfile -Name 'intune-app' -TenantId $TenantId -ClientId $AppFull -CertificateThumbprint $Cert.Thumbprint @ep
        $saved = Get-PmpMailProfile -Name 'intune-app'
        $saved.CredentialType | Should -Be 'CertificateThumbprint'
        $saved.CertificateThumbprint | Should -Be $Cert.Thumbprint
        Send-PmpMail -ProfileName 'intune-app' -To 'ops@contoso.com' -Subject 'via profile' -From $Mailbox
        (Get-EmulatorMessages).subject | Should -Be 'via profile'
        Test-PmpMailPermission -ProfileName 'intune-app' -Quiet | Should -BeTrue
        Connect-PmpMail -ProfileName 'intune-app'
        Send-PmpMail -To 'ops@contoso.com' -Subject 'via connect' -From $Mailbox
        Disconnect-PmpMail
        (Get-EmulatorMessages).Count | Should -Be 2
    }

    It 'stores no secret: a client secret is refused off Windows, an environment variable name is kept' -Skip:$IsWindows {
        $secret = ConvertTo-SecureString $GoodSecret -AsPlainText -Force
        { Register-PmpMailProfile -Name 'plain' -TenantId $TenantId -ClientId $AppFull -ClientSecret $secret @ep } |
            Should -Throw -ErrorId 'PmpMail.PlainSecretRefused,PmpMail.Commands.RegisterPmpMailProfileCommand'
        Get-PmpMailProfile -Name 'plain' -ErrorAction SilentlyContinue | Should -BeNullOrEmpty

        Register-PmpMailProfile -Name 'tenant-b' -TenantId $TenantDomain -ClientId $AppSendOnly -ClientSecretEnvironmentVariable 'PMP_TEST_SECRET' @ep
        $env:PMP_TEST_SECRET = $GoodSecret
        try {
            Send-PmpMail -ProfileName 'tenant-b' -To 'ops@contoso.com' -Subject 'env secret' -From $Mailbox
        }
        finally { Remove-Item Env:PMP_TEST_SECRET }
        (Get-EmulatorMessages).appId | Should -Be $AppSendOnly
        $files = Get-ChildItem $env:PMP_MAIL_PROFILE_DIR -File
        foreach ($f in $files) { Get-Content -Raw $f.FullName | Should -Not -Match ([regex]::Escape($GoodSecret)) }
        { Send-PmpMail -ProfileName 'tenant-b' -To 'ops@contoso.com' -Subject 'x' -From $Mailbox } |
            Should -Throw -ErrorId 'PmpMail.SecretEnvironmentVariableNotSet,PmpMail.Commands.SendPmpMailCommand'
    }

    It 'saves a pasted thumbprint normalized, warns when no store holds it, and refuses one without hex digits' {
        $pasted = ($Cert.Thumbprint.ToLowerInvariant() -split '(..)' -ne '') -join ':'
        Register-PmpMailProfile -Name 'pasted' -TenantId $TenantId -ClientId $AppFull -CertificateThumbprint $pasted @ep -WarningVariable found
        (Get-PmpMailProfile -Name 'pasted').CertificateThumbprint | Should -Be $Cert.Thumbprint
        $found | Should -BeNullOrEmpty

        Register-PmpMailProfile -Name 'elsewhere' -TenantId $TenantId -ClientId $AppFull -CertificateThumbprint ('AB' * 20) @ep -WarningVariable missing -WarningAction SilentlyContinue
        "$missing" | Should -Match 'not usable yet'
        "$missing" | Should -Match 'CurrentUser\\My \(not found\)'
        "$missing" | Should -Match 'LocalMachine\\My'

        { Register-PmpMailProfile -Name 'garbage' -TenantId $TenantId -ClientId $AppFull -CertificateThumbprint ' :: ' @ep } |
            Should -Throw -ErrorId 'PmpMail.CertificateThumbprintInvalid,PmpMail.Commands.RegisterPmpMailProfileCommand'
        Get-PmpMailProfile -Name 'garbage' -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        Unregister-PmpMailProfile -Name 'pasted' -Confirm:$false
        Unregister-PmpMailProfile -Name 'elsewhere' -Confirm:$false
    }

    It 'lists with wildcards, refuses duplicates without -Force, and unregisters from the pipeline' {
        Register-PmpMailProfile -Name 'msp-a' -TenantId $TenantId -ClientId $AppFull -CertificateThumbprint $Cert.Thumbprint @ep
        Register-PmpMailProfile -Name 'msp-b' -TenantId $TenantId -ClientId $AppFull -CertificateThumbprint $Cert.Thumbprint @ep
        { Register-PmpMailProfile -Name 'msp-a' -TenantId $TenantId -ClientId $AppFull -CertificateThumbprint $Cert.Thumbprint @ep } |
            Should -Throw -ErrorId 'PmpMail.ProfileExists,PmpMail.Commands.RegisterPmpMailProfileCommand'
        Register-PmpMailProfile -Name 'msp-a' -TenantId $TenantId -ClientId $AppSendOnly -CertificateThumbprint $Cert.Thumbprint @ep -Force
        (Get-PmpMailProfile -Name 'msp-a').ClientId | Should -Be $AppSendOnly
        (Get-PmpMailProfile -Name 'msp-*').Count | Should -Be 2
        Register-PmpMailProfile -Name 'msp-c' -TenantId $TenantId -ClientId $AppFull -CertificateThumbprint $Cert.Thumbprint @ep -WhatIf
        Get-PmpMailProfile -Name 'msp-c' -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        Get-PmpMailProfile -Name 'msp-*' | Unregister-PmpMailProfile -Confirm:$false
        Get-PmpMailProfile -Name 'msp-*' | Should -BeNullOrEmpty
        { Send-PmpMail -ProfileName 'msp-a' -To 'x@contoso.com' -From $Mailbox } |
            Should -Throw -ErrorId 'PmpMail.ProfileNotFound,PmpMail.Commands.SendPmpMailCommand'
    }
}
