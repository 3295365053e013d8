@{
    Synopsis    = 'Closes the session connection made by Connect-PmpMail.'
    Description = 'Disconnect-PmpMail closes the connection Connect-PmpMail stored for the session and forgets its cached token (it is only ever held in memory). Afterwards cmdlets need credentials, -Connection or -ProfileName again. It does nothing when there is no session connection. Connections from New-PmpMailConnection are not affected; call their Dispose() method or let them go.'
    Examples    = @(
        @{
            Title   = 'End a session'
            Code    = @'
Connect-PmpMail -ProfileName 'contoso-mail'
Send-PmpMail -To 'ops@contoso.com' -Subject 'done' -From 'alerts@contoso.com'
Disconnect-PmpMail
'@
            Remarks = 'The token cache lives only in this process and is gone after Disconnect-PmpMail.'
        }
    )
    Links       = @('Connect-PmpMail')
}
